package dev.tokenmarket.platform;

import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.platform.error.ErrorResponses;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.impl.RoutingContextInternal;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.time.Duration;

/**
 * Gives every request a deadline for its whole body, on every path. A client that announces a body and sends
 * less of it (or none) would otherwise keep its request open for the connection's idle timeout, half an hour,
 * and, where RESTEasy reads large bodies on a worker thread, keep that worker blocked the whole time. Past the
 * deadline the request gets 408 and its connection is closed, which also frees a worker blocked reading it.
 * HTTP/2 requests (h2c) are left to the connection's own limits: closing their connection would also end the
 * other requests it carries.
 */
@ApplicationScoped
public class BodyReadDeadline {

    /** Ahead of every other route, body handlers included. */
    private static final int ROUTE_ORDER = -1_000;

    /** Time a client has to send a whole request body once its headers arrived. */
    @ConfigProperty(name = "tokenmarket.http.body-timeout", defaultValue = "PT30S")
    Duration bodyTimeout;

    @Inject
    Vertx vertx;

    void armOnEveryRequest(@Observes Router router) {
        router.route().order(ROUTE_ORDER).handler(this::arm);
    }

    private void arm(RoutingContext rc) {
        HttpServerRequest request = rc.request();
        if (request.version() != HttpVersion.HTTP_2 && !request.isEnded()
                && (declaredLength(request) > 0 || request.headers().contains(HttpHeaders.TRANSFER_ENCODING))) {
            long timer = vertx.setTimer(bodyTimeout.toMillis(), id -> expire(rc));
            rc.addEndHandler(ended -> vertx.cancelTimer(timer));
        }
        rc.next();
    }

    /** The Content-Length the request announces, or -1. */
    private static long declaredLength(HttpServerRequest request) {
        try {
            String length = request.getHeader(HttpHeaders.CONTENT_LENGTH);
            return length == null ? -1 : Long.parseLong(length.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private void expire(RoutingContext rc) {
        HttpServerRequest request = rc.request();
        if (request.isEnded() || rc.response().headWritten()) {
            return;
        }
        // RESTEasy pauses a request once it has its body, and Vert.x holds the request's end back while it is
        // paused: "not ended" does not mean "body still coming". The bytes read against Content-Length do; a
        // chunked body has no length, so only the body handler's reading (which takes the end) can tell.
        long length = declaredLength(request);
        boolean bodyMissing = length >= 0
                ? request.bytesRead() < length
                : ((RoutingContextInternal) rc).seenHandler(RoutingContextInternal.BODY_HANDLER);
        if (!bodyMissing) {
            return;
        }
        String message = "The request body did not arrive within " + bodyTimeout.toSeconds()
                + " s of its headers; send the whole body (as many bytes as Content-Length says) at once.";
        rc.response().setStatusCode(ErrorCode.REQUEST_TIMEOUT.status())
                .putHeader(HttpHeaders.CONTENT_TYPE, ErrorResponses.mediaType(request.path()).toString())
                .putHeader(HttpHeaders.CONNECTION, HttpHeaders.CLOSE)
                .end(new JsonObject(ErrorResponses.body(request.path(), ErrorCode.REQUEST_TIMEOUT, message, null)).encode())
                .onComplete(written -> request.connection().close());
    }
}
