package dev.tokenmarket.platform.error;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.JsonMappingException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The one place that turns failures into HTTP answers: the OpenAI error shape on {@code /v1} (the SDKs
 * parse it) and RFC 9457 problem details with a stable {@code code} everywhere else.
 */
public final class ErrorResponses {

    public static final MediaType PROBLEM_JSON = new MediaType("application", "problem+json");
    private static final Logger LOG = Logger.getLogger(ErrorResponses.class);

    @ServerExceptionMapper
    public Response apiException(ApiException e, UriInfo uri) {
        Response response = respond(uri, e.code(), e.getMessage(), e.field());
        if (e.retryAfterSeconds() != null) {
            response.getHeaders().putSingle("Retry-After", e.retryAfterSeconds());
        }
        return response;
    }

    @ServerExceptionMapper
    public Response malformedJson(JsonProcessingException e, UriInfo uri) {
        String field = null;
        if (e instanceof JsonMappingException mapping && !mapping.getPath().isEmpty()) {
            field = mapping.getPath().stream()
                    .map(ref -> ref.getFieldName() != null ? ref.getFieldName() : "[" + ref.getIndex() + "]")
                    .collect(Collectors.joining("."));
        }
        String message = field == null
                ? "The request body is not valid JSON: " + e.getOriginalMessage()
                : "Field '" + field + "' has the wrong type or format: " + e.getOriginalMessage();
        return respond(uri, field == null ? ErrorCode.MALFORMED_JSON : ErrorCode.INVALID_REQUEST, message, field);
    }

    /** Quarkus has built-in mappers for these two; ours replace them so every 400 names its field. */
    @ServerExceptionMapper
    public Response mismatchedInput(MismatchedInputException e, UriInfo uri) {
        return malformedJson(e, uri);
    }

    @ServerExceptionMapper
    public Response unparseable(JsonParseException e, UriInfo uri) {
        return malformedJson(e, uri);
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundException e, UriInfo uri) {
        return respond(uri, ErrorCode.NOT_FOUND, "No such resource: " + uri.getPath(), null);
    }

    @ServerExceptionMapper
    public Response webApplication(WebApplicationException e, UriInfo uri) {
        for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
            if (cause instanceof JsonProcessingException json) {
                return malformedJson(json, uri);
            }
        }
        int status = e.getResponse().getStatus();
        if (status == 400 && e.getCause() == null && e.getResponse().getEntity() == null) {
            // Quarkus REST reports an unreadable body this way when the JSON reader gives up early.
            return respond(uri, ErrorCode.MALFORMED_JSON, "The request body is not valid JSON.", null);
        }
        if (e instanceof NotAllowedException || e instanceof NotSupportedException || status < 500) {
            return respond(uri, status, status == 405 ? "method_not_allowed" : "invalid_request",
                    "invalid_request_error", e.getMessage(), null);
        }
        LOG.error("request failed", e);
        return respond(uri, ErrorCode.INTERNAL, "Internal error; the request changed nothing it could not undo.", null);
    }

    @ServerExceptionMapper(priority = 10_000)
    public Response unexpected(RuntimeException e, UriInfo uri) {
        LOG.error("unexpected failure on " + uri.getPath(), e);
        return respond(uri, ErrorCode.INTERNAL, "Internal error; the request changed nothing it could not undo.", null);
    }

    public static Response respond(UriInfo uri, ErrorCode code, String message, String field) {
        return respond(uri, code.status(), code.code(), code.openAiType(), message, field);
    }

    private static Response respond(UriInfo uri, int status, String code, String openAiType, String message,
                                    String field) {
        return Response.status(status).type(mediaType(uri.getPath()))
                .entity(body(uri.getPath(), status, code, openAiType, message, field)).build();
    }

    /** The media type of an error answer on this path. */
    public static MediaType mediaType(String path) {
        return isOpenAiPath(path) ? MediaType.APPLICATION_JSON_TYPE : PROBLEM_JSON;
    }

    /**
     * The error body for this path, for code that answers outside JAX-RS (Vert.x routes): the OpenAI shape
     * on {@code /v1}, problem details elsewhere.
     */
    public static Map<String, Object> body(String path, ErrorCode code, String message, String field) {
        return body(path, code.status(), code.code(), code.openAiType(), message, field);
    }

    private static Map<String, Object> body(String path, int status, String code, String openAiType, String message,
                                            String field) {
        if (isOpenAiPath(path)) {
            return openAiError(code, openAiType, message, field);
        }
        Map<String, Object> problem = new LinkedHashMap<>();
        problem.put("type", "https://tokenmarket.dev/problems/" + code);
        problem.put("title", code.replace('_', ' '));
        problem.put("status", status);
        problem.put("detail", message);
        problem.put("code", code);
        if (field != null) {
            problem.put("field", field);
        }
        problem.put("instance", path);
        return problem;
    }

    public static Map<String, Object> openAiError(String code, String type, String message, String field) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("message", message);
        error.put("type", type);
        error.put("code", code);
        error.put("param", field);
        return Map.of("error", error);
    }

    public static boolean isOpenAiPath(String path) {
        return path.startsWith("/v1/") || path.equals("/v1");
    }
}
