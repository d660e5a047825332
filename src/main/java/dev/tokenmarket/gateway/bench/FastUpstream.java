package dev.tokenmarket.gateway.bench;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;

/**
 * The benchmark's upstream: an OpenAI-compatible server that answers at once with a short fixed
 * completion (whole, or as 8 stream chunks with usage), so that what the benchmark measures is the
 * gateway in front of it, not inference. It is a load-test fixture, never a product backend.
 */
public final class FastUpstream implements AutoCloseable {

    static final int PROMPT_TOKENS = 5;
    static final int COMPLETION_TOKENS = 8;
    private static final String[] PIECES = {"Once", " upon", " a", " time", " there", " was", " a", " cat"};

    private final HttpServer server;
    private final byte[] whole;
    private final byte[] stream;

    public FastUpstream(int port) throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 4096);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        whole = ("{\"id\":\"up\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"bench\",\"choices\":[{\"index\":0,"
                + "\"message\":{\"role\":\"assistant\",\"content\":\"" + String.join("", PIECES) + "\"},\"finish_reason\":\"stop\"}],"
                + "\"usage\":{\"prompt_tokens\":" + PROMPT_TOKENS + ",\"completion_tokens\":" + COMPLETION_TOKENS
                + ",\"total_tokens\":" + (PROMPT_TOKENS + COMPLETION_TOKENS) + "}}").getBytes(StandardCharsets.UTF_8);
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
        stream = sse.toString().getBytes(StandardCharsets.UTF_8);
        server.createContext("/v1/chat/completions", this::answer);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    private void answer(HttpExchange exchange) throws IOException {
        try (exchange) {
            byte[] request = exchange.getRequestBody().readAllBytes();
            boolean streaming = new String(request, StandardCharsets.UTF_8).contains("\"stream\":true");
            byte[] body = streaming ? stream : whole;
            exchange.getResponseHeaders().set("Content-Type", streaming ? "text/event-stream" : "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
