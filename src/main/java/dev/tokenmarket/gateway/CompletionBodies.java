package dev.tokenmarket.gateway;

import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.platform.error.ErrorResponses;
import io.quarkus.runtime.configuration.MemorySize;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.json.JsonObject;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import io.vertx.ext.web.handler.BodyHandler;
import io.vertx.ext.web.impl.RoutingContextInternal;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Reads the body of a completion request on the event loop, as it arrives, before the request goes to its
 * worker thread. Left to RESTEasy Reactive, a blocking resource method reads its body through a stream the
 * worker blocks on while the event loop hands it each chunk: about a tenth of the gateway's CPU samples at
 * 1,000 req/s, and a thread hand-off on every request's path. Given a body already read, RESTEasy Reactive
 * reads it from memory. The size limit stays the server's ({@code quarkus.http.limits.max-body-size}); a
 * larger body is refused with 413 in the OpenAI error shape.
 */
@ApplicationScoped
public class CompletionBodies {

    /** Ahead of the application's JAX-RS routes. */
    private static final int ROUTE_ORDER = -100;
    private static final long MEGABYTE = 1024 * 1024;

    @ConfigProperty(name = "quarkus.http.limits.max-body-size", defaultValue = "10240K")
    MemorySize maxBodySize;

    void readOnTheEventLoop(@Observes Router router) {
        BodyHandler bodies = BodyHandler.create(false).setBodyLimit(maxBodySize.asLongValue());
        for (String path : new String[] {"/v1/chat/completions", "/v1/completions"}) {
            router.route(HttpMethod.POST, path).order(ROUTE_ORDER).handler(rc -> {
                // RESTEasy Reactive pauses every request it takes, and an HTTP/2 request whose body was read
                // refuses that: HTTP/2 clients (h2c, as the JDK's client tries first) keep RESTEasy's own reading.
                if (rc.request().version() == HttpVersion.HTTP_2) {
                    rc.next();
                } else {
                    bodies.handle(rc);
                }
            }).handler(CompletionBodies::emptyWhenAbsent).failureHandler(this::bodyFailed);
        }
    }

    /**
     * The body handler leaves no body at all for a request without one (Content-Length: 0, or chunked with no
     * chunk); RESTEasy Reactive then waits on the worker for input the request will never send again, and the
     * client gets no answer. An empty body lets the resource refuse it at once.
     */
    private static void emptyWhenAbsent(RoutingContext rc) {
        if (rc.request().version() != HttpVersion.HTTP_2 && rc.body().buffer() == null) {
            ((RoutingContextInternal) rc).setBody(Buffer.buffer());
        }
        rc.next();
    }

    private void bodyFailed(RoutingContext rc) {
        if (rc.response().ended()) {
            // The body deadline answered 408 and closed the connection, which failed the body's reading.
            return;
        }
        if (rc.statusCode() != ErrorCode.REQUEST_TOO_LARGE.status() || rc.response().headWritten()) {
            rc.next();
            return;
        }
        long limit = maxBodySize.asLongValue();
        String size = limit % MEGABYTE == 0 ? limit / MEGABYTE + " MB" : limit / 1024 + " KB";
        ErrorCode code = ErrorCode.REQUEST_TOO_LARGE;
        rc.response().setStatusCode(code.status()).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                .end(new JsonObject(ErrorResponses.body(rc.request().path(), code,
                        "The request body is larger than the " + size + " this API accepts; send a shorter prompt.",
                        null)).encode());
    }
}
