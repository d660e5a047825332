package dev.tokenmarket.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.tokenmarket.inference.ChatMessage;
import dev.tokenmarket.inference.ChatTemplate;
import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.inference.GenerationOptions;
import dev.tokenmarket.inference.GenerationOutput;
import dev.tokenmarket.inference.GenerationRequest;
import dev.tokenmarket.inference.GenerationResult;
import dev.tokenmarket.inference.LlamaModel;
import dev.tokenmarket.inference.ReferenceEngine;
import dev.tokenmarket.inference.Tokenizer;
import dev.tokenmarket.inference.TopLogprob;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A real OpenAI-compatible server for the tests, on a free local port: it generates with its own
 * reference engine (stories260K from ../shared/models) and streams token by token. It can be told to
 * fail in the ways real upstreams fail, to exercise fallbacks and the circuit breaker.
 */
public final class TestUpstream implements AutoCloseable {

    /** How the next requests are answered. */
    public enum Behaviour {
        SERVE,
        /** Serve, but leave usage out of the answer, so the gateway must count tokens itself. */
        SERVE_WITHOUT_USAGE,
        /** HTTP 500 before anything else. */
        FAIL_WITH_500,
        /** Say nothing for longer than the gateway's first-byte timeout. */
        HANG,
        /** Stream three tokens, then end the stream without finishing it. */
        BREAK_AFTER_THREE_TOKENS,
        /** Stream with 20 ms between tokens, as a real model does, and stop when the client is gone. */
        SERVE_SLOWLY,
        /**
         * Close the next request's connection without answering (as a server does with a kept-alive
         * connection it has just timed out), then serve again.
         */
        CLOSE_ONCE_WITHOUT_ANSWER
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    private static ReferenceEngine engine;

    private final HttpServer server;
    private volatile Behaviour behaviour = Behaviour.SERVE;
    private final AtomicInteger requests = new AtomicInteger();
    private final AtomicInteger streamsCut = new AtomicInteger();
    private final AtomicInteger holding = new AtomicInteger();
    private final AtomicInteger holdingMax = new AtomicInteger();
    private volatile long holdMillis;
    private volatile JsonNode lastBody;

    private static synchronized ReferenceEngine engine() {
        if (engine == null) {
            LlamaModel model = LlamaModel.load(Path.of("../shared/models/stories260K.bin"));
            engine = new ReferenceEngine("stories260k", model,
                    Tokenizer.load(Path.of("../shared/models/tok512.bin"), model.config().vocabSize()), false);
        }
        return engine;
    }

    public TestUpstream() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
        server.createContext("/v1/chat/completions", exchange -> handle(exchange, true));
        server.createContext("/v1/completions", exchange -> handle(exchange, false));
        server.start();
    }

    /** Base URL as providers list it, e.g. http://127.0.0.1:1234/v1. */
    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
    }

    public void behave(Behaviour next) {
        behaviour = next;
    }

    /** The body of the last request received (null before the first). */
    public JsonNode lastBody() {
        return lastBody;
    }

    /** Streams that ended early because the client (the gateway) closed the connection. */
    public int streamsCutByTheClient() {
        return streamsCut.get();
    }

    /** Requests received so far. */
    public int requests() {
        return requests.get();
    }

    /**
     * Keeps each request this long before answering it. The requests held at the same time are counted, and
     * each is counted only while the gateway that sent it still waits for its answer (the count drops before
     * the answer leaves), so {@link #concurrentMax} never overstates the gateways' concurrency.
     */
    public void holdEachRequest(java.time.Duration hold) {
        holdMillis = hold.toMillis();
    }

    /** The most requests held at once since the last {@link #resetConcurrentMax}. */
    public int concurrentMax() {
        return holdingMax.get();
    }

    public void resetConcurrentMax() {
        holdingMax.set(0);
    }

    private void handle(HttpExchange exchange, boolean chat) throws IOException {
        requests.incrementAndGet();
        try (exchange) {
            if (holdMillis > 0) {
                holdingMax.accumulateAndGet(holding.incrementAndGet(), Math::max);
                try {
                    Thread.sleep(holdMillis);
                } finally {
                    holding.decrementAndGet();
                }
            }
            JsonNode body = JSON.readTree(exchange.getRequestBody());
            lastBody = body;
            Behaviour now = behaviour;
            switch (now) {
                case FAIL_WITH_500 -> {
                    byte[] error = "{\"error\":{\"message\":\"upstream is down\",\"type\":\"api_error\"}}".getBytes(StandardCharsets.UTF_8);
                    exchange.sendResponseHeaders(500, error.length);
                    exchange.getResponseBody().write(error);
                    return;
                }
                case HANG -> {
                    Thread.sleep(10_000);
                    return;
                }
                case CLOSE_ONCE_WITHOUT_ANSWER -> {
                    behaviour = Behaviour.SERVE;
                    // Closing an exchange before its response headers closes the connection itself.
                    return;
                }
                default -> {
                }
            }
            String prompt = chat ? ChatTemplate.render(messages(body.get("messages"))) : body.path("prompt").asText("");
            GenerationRequest request = new GenerationRequest(prompt, body.path("max_tokens").asInt(16),
                    body.path("temperature").asDouble(1.0), body.path("top_p").asDouble(1.0), body.path("top_k").asInt(0),
                    body.hasNonNull("seed") ? body.get("seed").asLong() : null, List.of());
            // Log-probabilities as OpenAI takes them: chat "logprobs": true with "top_logprobs": k, legacy
            // completions "logprobs": k.
            boolean logprobs = chat ? body.path("logprobs").asBoolean(false) : body.hasNonNull("logprobs");
            int top = chat ? body.path("top_logprobs").asInt(0) : body.path("logprobs").asInt(0);
            GenerationOptions options = new GenerationOptions(0, 0, logprobs, top, 0);
            if (body.path("stream").asBoolean(false)) {
                stream(exchange, chat, request, options, now, body.path("stream_options").path("include_usage").asBoolean(false));
            } else {
                whole(exchange, chat, request, options, now);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static List<ChatMessage> messages(JsonNode node) {
        List<ChatMessage> messages = new ArrayList<>();
        for (JsonNode m : node) {
            messages.add(new ChatMessage(m.path("role").asText(), m.path("content").asText("")));
        }
        return messages;
    }

    private void whole(HttpExchange exchange, boolean chat, GenerationRequest request, GenerationOptions options,
                       Behaviour now) throws IOException {
        GenerationOutput output = engine().generate(request, options, token -> true);
        GenerationResult result = output.result();
        ObjectNode answer = JSON.createObjectNode().put("id", "up-1").put("object", chat ? "chat.completion" : "text_completion")
                .put("created", System.currentTimeMillis() / 1000).put("model", "stories260k");
        ObjectNode choice = answer.putArray("choices").addObject().put("index", 0).put("finish_reason", result.finishReason());
        if (chat) {
            choice.putObject("message").put("role", "assistant").put("content", result.text());
        } else {
            choice.put("text", result.text());
        }
        if (options.logprobs()) {
            logprobs(choice, chat, output.tokens().stream().filter(t -> t.tokenId() >= 0).toList(), 0);
        }
        if (now != Behaviour.SERVE_WITHOUT_USAGE) {
            answer.putObject("usage").put("prompt_tokens", result.promptTokens()).put("completion_tokens", result.completionTokens())
                    .put("total_tokens", result.promptTokens() + result.completionTokens());
        }
        byte[] bytes = JSON.writeValueAsBytes(answer);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, bytes.length);
        exchange.getResponseBody().write(bytes);
    }

    private void stream(HttpExchange exchange, boolean chat, GenerationRequest request, GenerationOptions options,
                        Behaviour now, boolean includeUsage) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.sendResponseHeaders(200, 0);
        OutputStream out = exchange.getResponseBody();
        AtomicInteger sent = new AtomicInteger();
        AtomicInteger textOffset = new AtomicInteger();
        AtomicBoolean cut = new AtomicBoolean();
        GenerationResult result = engine().generate(request, options, token -> {
            String piece = token.text();
            if (piece.isEmpty() && (!options.logprobs() || token.tokenId() < 0)) {
                return true;
            }
            if (now == Behaviour.BREAK_AFTER_THREE_TOKENS && sent.get() == 3) {
                return false;
            }
            ObjectNode chunk = JSON.createObjectNode().put("id", "up-1")
                    .put("object", chat ? "chat.completion.chunk" : "text_completion").put("model", "stories260k");
            ObjectNode choice = chunk.putArray("choices").addObject().put("index", 0).putNull("finish_reason");
            if (chat) {
                choice.putObject("delta").put("content", piece);
            } else {
                choice.put("text", piece);
            }
            if (options.logprobs() && token.tokenId() >= 0) {
                logprobs(choice, chat, List.of(token), textOffset.get());
            }
            textOffset.addAndGet(piece.length());
            try {
                if (now == Behaviour.SERVE_SLOWLY) {
                    Thread.sleep(20);
                }
                out.write(("data: " + chunk + "\n\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
                sent.incrementAndGet();
                return true;
            } catch (IOException e) {
                cut.set(true);
                streamsCut.incrementAndGet();
                return false;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }).result();
        if (cut.get()) {
            return;
        }
        if (now == Behaviour.BREAK_AFTER_THREE_TOKENS) {
            // The stream stops without a finish reason or [DONE], as when an upstream crashes mid-answer.
            out.close();
            return;
        }
        ObjectNode last = JSON.createObjectNode().put("id", "up-1").put("object", chat ? "chat.completion.chunk" : "text_completion");
        ObjectNode choice = last.putArray("choices").addObject().put("index", 0).put("finish_reason", result.finishReason());
        if (chat) {
            choice.putObject("delta");
        } else {
            choice.put("text", "");
        }
        out.write(("data: " + last + "\n\n").getBytes(StandardCharsets.UTF_8));
        if (includeUsage && now != Behaviour.SERVE_WITHOUT_USAGE) {
            ObjectNode usage = JSON.createObjectNode().put("id", "up-1").put("object", "chat.completion.chunk");
            usage.putArray("choices");
            usage.putObject("usage").put("prompt_tokens", result.promptTokens()).put("completion_tokens", result.completionTokens());
            out.write(("data: " + usage + "\n\n").getBytes(StandardCharsets.UTF_8));
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    /** OpenAI's two shapes: chat {@code content} entries, legacy parallel arrays. */
    private static void logprobs(ObjectNode choice, boolean chat, List<GeneratedToken> tokens, int firstOffset) {
        ObjectNode logprobs = choice.putObject("logprobs");
        if (chat) {
            var content = logprobs.putArray("content");
            for (GeneratedToken t : tokens) {
                ObjectNode entry = content.addObject().put("token", t.token()).put("logprob", t.logprob());
                var top = entry.putArray("top_logprobs");
                for (TopLogprob alt : t.topLogprobs()) {
                    top.addObject().put("token", alt.token()).put("logprob", alt.logprob());
                }
            }
            return;
        }
        var texts = logprobs.putArray("tokens");
        var values = logprobs.putArray("token_logprobs");
        var tops = logprobs.putArray("top_logprobs");
        var offsets = logprobs.putArray("text_offset");
        int offset = firstOffset;
        for (GeneratedToken t : tokens) {
            texts.add(t.token());
            values.add(t.logprob());
            ObjectNode alternatives = tops.addObject();
            t.topLogprobs().forEach(alt -> {
                if (!alternatives.has(alt.token())) {
                    alternatives.put(alt.token(), alt.logprob());
                }
            });
            offsets.add(offset);
            offset += t.text().length();
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
