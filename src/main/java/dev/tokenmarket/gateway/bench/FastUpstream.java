package dev.tokenmarket.gateway.bench;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's upstream: an OpenAI-compatible server that answers at once with a short fixed
 * completion (whole, or as 8 stream chunks with usage), so that what the benchmark measures is the
 * gateway in front of it, not inference. It is a load-test fixture, never a product backend. It runs on one
 * Vert.x event loop: it shares the machine with the gateway it measures, so it should cost as little
 * CPU as it can (see the load generator in {@link GatewayBenchmark}).
 */
public final class FastUpstream implements AutoCloseable {

    static final int PROMPT_TOKENS = 5;
    static final int COMPLETION_TOKENS = 8;
    private static final String[] PIECES = {"Once", " upon", " a", " time", " there", " was", " a", " cat"};

    private static final byte[] STREAM_FLAG = "\"stream\":true".getBytes(StandardCharsets.UTF_8);

    private final Vertx vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    private final HttpServer server;
    private final Buffer whole;
    private final Buffer stream;

    public FastUpstream(int port) throws Exception {
        whole = Buffer.buffer("{\"id\":\"up\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"bench\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":\"" + String.join("", PIECES) + "\"},\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":" + PROMPT_TOKENS + ",\"completion_tokens\":" + COMPLETION_TOKENS
                + ",\"total_tokens\":" + (PROMPT_TOKENS + COMPLETION_TOKENS) + "}}");
        StringBuilder sse = new StringBuilder();
        for (String piece : PIECES) {
            sse.append("data: {\"id\":\"up\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\","
                    + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"").append(piece).append("\"},\"finish_reason\":null}]}\n\n");
        }
        sse.append("data: {\"id\":\"up\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\","
                + "\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
        sse.append("data: {\"id\":\"up\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"bench\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":" + PROMPT_TOKENS + ",\"completion_tokens\":" + COMPLETION_TOKENS + "}}\n\n");
        sse.append("data: [DONE]\n\n");
        stream = Buffer.buffer(sse.toString());
        server = vertx.createHttpServer(new HttpServerOptions().setHost("127.0.0.1").setPort(port).setAcceptBacklog(4096))
                .requestHandler(this::answer)
                .listen().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
    }

    public String url() {
        return "http://127.0.0.1:" + server.actualPort() + "/v1";
    }

    private void answer(HttpServerRequest request) {
        if (!request.path().equals("/v1/chat/completions")) {
            request.response().setStatusCode(404).end();
            return;
        }
        request.body().onSuccess(received -> {
            boolean streaming = contains(received, STREAM_FLAG);
            request.response().putHeader("Content-Type", streaming ? "text/event-stream" : "application/json")
                    .end(streaming ? stream : whole);
        });
    }

    private static boolean contains(Buffer haystack, byte[] needle) {
        byte[] bytes = haystack.getBytes();
        outer:
        for (int i = 0; i + needle.length <= bytes.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (bytes[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    @Override
    public void close() {
        vertx.close();
    }
}
