package dev.tokenmarket.contract;

import io.restassured.RestAssured;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/**
 * One HTTP request to an operation, as the contract suite builds and alters it: path parameters, query parameters,
 * headers, and the body as raw text (so that it can be made not JSON), sent without RestAssured's own encoding
 * so that what is tried is exactly what reaches the server.
 */
record Call(String method, String pathTemplate, Map<String, String> path, Map<String, String> query,
            Map<String, String> headers, String contentType, String body) {

    static final String JSON = "application/json";
    /** A header value the sender replaces by a new UUID on every send: each try gets its own Idempotency-Key. */
    static final String FRESH = "(fresh)";
    private static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    Call withPath(String name, String value) {
        return new Call(method, pathTemplate, with(path, name, value), query, headers, contentType, body);
    }

    /** The call with the query parameter set, or left out when {@code value} is null. */
    Call withQuery(String name, String value) {
        return new Call(method, pathTemplate, path, with(query, name, value), headers, contentType, body);
    }

    /** The call with the header set, or left out when {@code value} is null. */
    Call withHeader(String name, String value) {
        return new Call(method, pathTemplate, path, query, with(headers, name, value), contentType, body);
    }

    private static Map<String, String> with(Map<String, String> values, String name, String value) {
        Map<String, String> changed = new LinkedHashMap<>(values);
        if (value == null) {
            changed.remove(name);
        } else {
            changed.put(name, value);
        }
        return changed;
    }

    Call withBody(String newContentType, String newBody) {
        return new Call(method, pathTemplate, path, query, headers, newContentType, newBody);
    }

    /** The request's path and query, each value percent-encoded (a NUL becomes %00). */
    String uri() {
        String resolved = pathTemplate;
        for (Map.Entry<String, String> parameter : path.entrySet()) {
            resolved = resolved.replace("{" + parameter.getKey() + "}", encode(parameter.getValue()));
        }
        StringBuilder uri = new StringBuilder(resolved);
        char separator = '?';
        for (Map.Entry<String, String> parameter : query.entrySet()) {
            uri.append(separator).append(encode(parameter.getKey())).append('=').append(encode(parameter.getValue()));
            separator = '&';
        }
        return uri.toString();
    }

    /** An answer as the suite reads it: status, content type and body text. */
    record Answer(int status, String contentType, String body) {
    }

    /**
     * Sends the call with the JDK's client (a tenth of RestAssured's cost per request, which the suite's thousand
     * calls feel), to the application RestAssured is pointed at.
     */
    Answer send(String key) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://localhost:" + RestAssured.port + uri()))
                .timeout(Duration.ofSeconds(30));
        if (key != null) {
            request.header("Authorization", "Bearer " + key);
        }
        for (Map.Entry<String, String> header : headers.entrySet()) {
            request.header(header.getKey(), FRESH.equals(header.getValue()) ? UUID.randomUUID().toString() : header.getValue());
        }
        if (body != null) {
            request.header("Content-Type", contentType);
            request.method(method, HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        try {
            HttpResponse<String> response = CLIENT.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Answer(response.statusCode(), response.headers().firstValue("Content-Type").orElse(null), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException("no answer to " + this, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return method + " " + uri() + (body == null ? "" : " [" + contentType + "] " + abbreviate(body));
    }

    private static String abbreviate(String text) {
        String shown = text.replace("\u0000", "\\u0000");
        return shown.length() <= 200 ? shown : shown.substring(0, 200) + "…(" + text.length() + " chars)";
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
