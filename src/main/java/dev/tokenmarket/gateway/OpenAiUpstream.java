package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmarket.catalog.SecretBox;
import dev.tokenmarket.inference.ChatMessage;
import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.inference.InferenceException;
import dev.tokenmarket.routing.Offer;
import dev.tokenmarket.catalog.SamplingParameter;
import io.vertx.core.Vertx;
import io.opentelemetry.instrumentation.annotations.WithSpan;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Serves a request through any OpenAI-compatible server. A streaming request is proxied token by token
 * (the upstream's SSE chunks are re-emitted as they arrive); usage the upstream reports is billed, and
 * when it reports none the text is counted with the reference tokenizer.
 */
@ApplicationScoped
public class OpenAiUpstream implements Backend {

    private static final Logger LOG = Logger.getLogger(OpenAiUpstream.class);
    /** Attempts of one request whose connections close without an answer (see sendAgainIfClosedUnanswered). */
    private static final int UNANSWERED_ATTEMPTS_MAX = 4;

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);

    /** Upper bound of template and special tokens an upstream adds around a prompt. */
    private static final int PROMPT_OVERHEAD_TOKENS = 64;

    /** max_tokens assumed for an upstream request that does not set it, to size the hold. */
    @ConfigProperty(name = "tokenmarket.gateway.upstream-max-tokens-default", defaultValue = "4096")
    int maxTokensDefault;

    /** An upstream that has not answered with headers by then is treated as failed, and the next candidate tried. */
    @ConfigProperty(name = "tokenmarket.gateway.first-byte-timeout", defaultValue = "PT30S")
    Duration firstByteTimeout;

    @Inject
    Vertx vertx;

    @Inject
    SecretBox secrets;

    @Inject
    ReferenceBackend reference;

    private UpstreamHttp http;

    @PostConstruct
    void createClient() {
        http = new UpstreamHttp(vertx, CONNECT_TIMEOUT, firstByteTimeout);
    }

    @PreDestroy
    void closeClient() {
        http.close();
    }

    /** A request ready to send: where, with which key, and its JSON body. */
    private record UpstreamRequest(String url, String authorization, byte[] json) {
    }

    /** Accumulates one choice of the upstream's answer. */
    private static final class ChoiceText {
        final StringBuilder text = new StringBuilder();
        final List<GeneratedToken> tokens = new ArrayList<>();
        String finishReason;
    }

    @Override
    public String type() {
        return "openai";
    }

    /** Sized without the upstream's tokenizer: every token of a byte-level BPE tokenizer covers at least one byte. */
    @Override
    public Budget budget(CompletionCall call, String promptText) {
        return new Budget(promptText.getBytes(StandardCharsets.UTF_8).length + PROMPT_OVERHEAD_TOKENS,
                call.maxTokens() != null ? call.maxTokens() : maxTokensDefault);
    }

    @Override
    @WithSpan("upstream call")
    public Served serve(Offer offer, CompletionCall call, String promptText, int maxTokens, TokenSink sink, long startedNanos)
            throws UpstreamFailure {
        UpstreamRequest request = request(offer, call, maxTokens);
        return call.stream() ? streamed(offer, call, request, sink, startedNanos) : whole(offer, call, request, startedNanos);
    }

    private UpstreamRequest request(Offer offer, CompletionCall call, int maxTokens) {
        ObjectNode body = JSON.createObjectNode();
        body.put("model", offer.backendModel());
        if (call.chat()) {
            ArrayNode messages = body.putArray("messages");
            for (ChatMessage m : call.messages()) {
                messages.addObject().put("role", m.role()).put("content", m.content());
            }
        } else {
            body.put("prompt", call.prompt());
        }
        // Only the parameters the endpoint says its upstream takes (an unknown one may be answered with 400).
        long supported = offer.supportedParameters();
        body.put("max_tokens", maxTokens);
        if (SamplingParameter.TEMPERATURE.in(supported)) {
            body.put("temperature", call.temperature());
        }
        if (SamplingParameter.TOP_P.in(supported)) {
            body.put("top_p", call.topP());
        }
        if (call.topK() > 0 && SamplingParameter.TOP_K.in(supported)) {
            body.put("top_k", call.topK());
        }
        if (call.n() > 1) {
            // Never without support: routing excludes such endpoints for n > 1.
            body.put("n", call.n());
        }
        if (call.presencePenalty() != 0 && SamplingParameter.PRESENCE_PENALTY.in(supported)) {
            body.put("presence_penalty", call.presencePenalty());
        }
        if (call.frequencyPenalty() != 0 && SamplingParameter.FREQUENCY_PENALTY.in(supported)) {
            body.put("frequency_penalty", call.frequencyPenalty());
        }
        if (call.seed() != null && SamplingParameter.SEED.in(supported)) {
            body.put("seed", call.seed());
        }
        if (call.user() != null && SamplingParameter.USER.in(supported)) {
            body.put("user", call.user());
        }
        if (call.logprobs() && SamplingParameter.LOGPROBS.in(supported)) {
            if (call.chat()) {
                body.put("logprobs", true);
                if (call.topLogprobs() > 0 && SamplingParameter.TOP_LOGPROBS.in(supported)) {
                    body.put("top_logprobs", call.topLogprobs());
                }
            } else {
                body.put("logprobs", call.topLogprobs());
            }
        }
        if (!call.stop().isEmpty() && SamplingParameter.STOP.in(supported)) {
            ArrayNode stop = body.putArray("stop");
            call.stop().forEach(stop::add);
        }
        if (call.stream()) {
            body.put("stream", true);
            body.putObject("stream_options").put("include_usage", true);
        }
        String authorization = offer.backendApiKeyEncrypted() == null ? null
                : "Bearer " + secrets.decrypt(offer.backendApiKeyEncrypted());
        return new UpstreamRequest(offer.backendUrl() + (call.chat() ? "/chat/completions" : "/completions"), authorization,
                body.toString().getBytes(StandardCharsets.UTF_8));
    }

    /** Sends the request and answers the upstream's 2xx answer, ready to read whole or as lines. */
    private UpstreamHttp.Answer send(Offer offer, UpstreamRequest request, boolean lines) throws UpstreamFailure {
        UpstreamHttp.Answer answer;
        try {
            answer = sendAgainIfClosedUnanswered(offer, request, lines);
        } catch (UpstreamHttp.NoAnswerInTime e) {
            throw new UpstreamFailure("upstream " + offer.backendUrl() + " sent nothing within " + firstByteTimeout.toMillis() + " ms", e);
        } catch (IOException e) {
            throw new UpstreamFailure("upstream " + offer.backendUrl() + " is unreachable: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UpstreamFailure("interrupted while waiting for the upstream", e);
        }
        if (answer.status() / 100 != 2) {
            answer.close();
            throw new UpstreamFailure("upstream " + offer.backendUrl() + " answered HTTP " + answer.status(), null);
        }
        return answer;
    }

    /**
     * Sends the request, and again when the connection closed without any answer: a kept-alive connection
     * the upstream had just closed (its idle timeout or connection limit) that the client took from its
     * pool before noticing. Proxies and browsers retry this case the same way; nothing was answered, so
     * nothing was served or billed for the failed attempt. Each failed attempt drops one dead connection from
     * the pool, and after a burst an upstream may have closed many, hence a few attempts. A timeout or a
     * refused connection is not retried here (the next candidate is tried instead).
     */
    private UpstreamHttp.Answer sendAgainIfClosedUnanswered(Offer offer, UpstreamRequest request, boolean lines)
            throws IOException, InterruptedException {
        for (int attempt = 1; ; attempt++) {
            try {
                return http.post(request.url(), request.authorization(), request.json(), lines);
            } catch (UpstreamHttp.ClosedWithoutAnswer e) {
                if (attempt == UNANSWERED_ATTEMPTS_MAX) {
                    throw e;
                }
                LOG.debugf("upstream %s closed the connection without answering; sending again", offer.backendUrl());
            }
        }
    }

    private Served whole(Offer offer, CompletionCall call, UpstreamRequest request, long startedNanos) throws UpstreamFailure {
        String text;
        try (UpstreamHttp.Answer response = send(offer, request, false)) {
            text = response.text();
        } catch (IOException e) {
            throw new UpstreamFailure("upstream " + offer.backendUrl() + " broke off its answer: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UpstreamFailure("interrupted while reading the upstream's answer", e);
        }
        long ttft = System.nanoTime() - startedNanos;
        JsonNode answer;
        try {
            answer = JSON.readTree(text);
        } catch (IOException e) {
            throw new UpstreamFailure("upstream answered something other than JSON", e);
        }
        TreeMap<Integer, ChoiceText> choices = new TreeMap<>();
        for (JsonNode choice : answer.path("choices")) {
            ChoiceText c = choices.computeIfAbsent(choice.path("index").asInt(choices.size()), i -> new ChoiceText());
            c.text.append(call.chat() ? choice.path("message").path("content").asText("") : choice.path("text").asText(""));
            c.finishReason = choice.path("finish_reason").asText("stop");
            if (call.logprobs()) {
                c.tokens.addAll(UpstreamLogprobs.read(choice.path("logprobs")));
            }
        }
        if (choices.isEmpty()) {
            throw new UpstreamFailure("upstream answered without choices", null);
        }
        return served(call, choices, answer.path("usage"), ttft, false);
    }

    /**
     * Proxies the upstream's stream. Until the first token reaches the client a failure is an
     * {@link UpstreamFailure} (another endpoint may take over); after it, a {@link MidStreamFailure}.
     */
    private Served streamed(Offer offer, CompletionCall call, UpstreamRequest request, TokenSink sink, long startedNanos)
            throws UpstreamFailure {
        TreeMap<Integer, ChoiceText> choices = new TreeMap<>();
        JsonNode usage = null;
        long ttft = 0;
        boolean cancelled = false;
        boolean done = false;
        try (UpstreamHttp.Answer response = send(offer, request, true)) {
            String line;
            while (!done && !cancelled && (line = response.nextLine()) != null) {
                if (!line.startsWith("data:")) {
                    continue;
                }
                String data = line.substring(5).strip();
                if (data.equals("[DONE]")) {
                    done = true;
                    continue;
                }
                JsonNode chunk;
                try {
                    chunk = JSON.readTree(data);
                } catch (IOException e) {
                    throw fail("upstream sent a chunk that is not JSON", ttft, call, choices, usage);
                }
                if (chunk.has("error")) {
                    throw fail("upstream reported an error: " + chunk.path("error").path("message").asText(),
                            ttft, call, choices, usage);
                }
                if (chunk.hasNonNull("usage")) {
                    usage = chunk.get("usage");
                }
                for (JsonNode choice : chunk.path("choices")) {
                    int index = choice.path("index").asInt(0);
                    ChoiceText c = choices.computeIfAbsent(index, i -> new ChoiceText());
                    String piece = call.chat() ? choice.path("delta").path("content").asText("") : choice.path("text").asText("");
                    if (!choice.path("finish_reason").isNull() && !choice.path("finish_reason").isMissingNode()) {
                        c.finishReason = choice.path("finish_reason").asText();
                    }
                    List<GeneratedToken> tokens = call.logprobs() ? UpstreamLogprobs.read(choice.path("logprobs")) : List.of();
                    if (piece.isEmpty() && tokens.isEmpty()) {
                        continue;
                    }
                    if (ttft == 0) {
                        ttft = System.nanoTime() - startedNanos;
                    }
                    c.text.append(piece);
                    c.tokens.addAll(tokens);
                    // The chunk's text goes with its first token; a chunk carrying several tokens sends the
                    // others' log-probabilities with no text of their own, so the text stays as sent.
                    boolean open = sink.accept(index, piece, tokens.isEmpty() ? null : tokens.getFirst());
                    for (int t = 1; open && t < tokens.size(); t++) {
                        open = sink.accept(index, "", tokens.get(t));
                    }
                    if (!open) {
                        // Closing the connection is how the upstream learns the client left: it stops generating.
                        response.cancel();
                        cancelled = true;
                        break;
                    }
                }
            }
        } catch (IOException e) {
            throw fail("upstream connection broke: " + e.getMessage(), ttft, call, choices, usage);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw fail("interrupted while reading the upstream's stream", ttft, call, choices, usage);
        }
        if (!done && !cancelled) {
            throw fail("upstream ended its stream without [DONE]", ttft, call, choices, usage);
        }
        if (choices.isEmpty()) {
            choices.put(0, new ChoiceText());
        }
        return served(call, choices, usage, ttft == 0 ? System.nanoTime() - startedNanos : ttft, cancelled);
    }

    /** Before the first token the failure may fall back; after it, it carries what was produced. */
    private MidStreamFailure fail(String message, long ttft, CompletionCall call, TreeMap<Integer, ChoiceText> choices,
                                  JsonNode usage) throws UpstreamFailure {
        if (ttft == 0) {
            throw new UpstreamFailure(message, null);
        }
        choices.values().forEach(c -> c.finishReason = "error");
        return new MidStreamFailure(message, served(call, choices, usage, ttft, false));
    }

    private Served served(CompletionCall call, TreeMap<Integer, ChoiceText> choices, JsonNode usage, long ttft, boolean cancelled) {
        List<Served.Choice> result = new ArrayList<>();
        for (var entry : choices.entrySet()) {
            ChoiceText c = entry.getValue();
            result.add(new Served.Choice(entry.getKey(), c.text.toString(),
                    cancelled ? "cancelled" : c.finishReason == null ? "stop" : c.finishReason, List.copyOf(c.tokens)));
        }
        // Usage reported by the upstream is billed; when it reports none (or the stream was cut), the tokens
        // are counted with the reference tokenizer, the closest measure this server has.
        boolean reported = usage != null && usage.path("prompt_tokens").isInt() && usage.path("completion_tokens").isInt();
        int promptTokens = reported ? usage.get("prompt_tokens").asInt() : countTokens(call.promptText());
        int completionTokens = reported ? usage.get("completion_tokens").asInt() : 0;
        if (!reported) {
            for (ChoiceText c : choices.values()) {
                completionTokens += c.text.isEmpty() ? 0 : countTokens(c.text.toString()) - 1;
            }
        }
        return new Served(result, promptTokens, completionTokens, ttft, cancelled);
    }

    /** Tokens of {@code text} with the reference tokenizer (BOS included); its UTF-8 bytes when it is too long to encode. */
    private int countTokens(String text) {
        try {
            return reference.engine().countTokens(text);
        } catch (InferenceException e) {
            return text.getBytes(StandardCharsets.UTF_8).length + 1;
        }
    }
}
