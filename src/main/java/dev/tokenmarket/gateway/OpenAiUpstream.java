package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmarket.catalog.SecretBox;
import dev.tokenmarket.inference.ChatMessage;
import dev.tokenmarket.inference.ChatTemplate;
import dev.tokenmarket.routing.Offer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Serves a request through any OpenAI-compatible server (non-streaming). */
@ApplicationScoped
public class OpenAiUpstream {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(120);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT)
            .version(HttpClient.Version.HTTP_1_1).build();

    @Inject
    SecretBox secrets;

    @Inject
    ReferenceBackend reference;

    public Served serve(Offer offer, CompletionCall call, int maxTokens) throws UpstreamFailure {
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
        body.put("max_tokens", maxTokens);
        body.put("temperature", call.temperature());
        body.put("top_p", call.topP());
        if (call.seed() != null) {
            body.put("seed", call.seed());
        }
        if (!call.stop().isEmpty()) {
            ArrayNode stop = body.putArray("stop");
            call.stop().forEach(stop::add);
        }
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(offer.backendUrl() + (call.chat() ? "/chat/completions" : "/completions")))
                .timeout(REQUEST_TIMEOUT)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString()));
        if (offer.backendApiKeyEncrypted() != null) {
            request.header("Authorization", "Bearer " + secrets.decrypt(offer.backendApiKeyEncrypted()));
        }
        long started = System.nanoTime();
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UpstreamFailure("upstream " + offer.backendUrl() + " is unreachable: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new UpstreamFailure("interrupted while waiting for the upstream", e);
        }
        long ttft = System.nanoTime() - started;
        if (response.statusCode() / 100 != 2) {
            throw new UpstreamFailure("upstream " + offer.backendUrl() + " answered HTTP " + response.statusCode(), null);
        }
        JsonNode answer;
        try {
            answer = JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UpstreamFailure("upstream answered something other than JSON", e);
        }
        JsonNode choice = answer.path("choices").path(0);
        String text = call.chat() ? choice.path("message").path("content").asText("") : choice.path("text").asText("");
        String finish = choice.path("finish_reason").asText("stop");
        JsonNode usage = answer.path("usage");
        // Usage reported by the upstream is billed; when it reports none, the tokens are counted with the
        // reference tokenizer, the closest measure this server has.
        int promptTokens = usage.path("prompt_tokens").isInt() ? usage.get("prompt_tokens").asInt()
                : countTokens(call.chat() ? ChatTemplate.render(call.messages()) : call.prompt());
        int completionTokens = usage.path("completion_tokens").isInt() ? usage.get("completion_tokens").asInt()
                : Math.max(0, countTokens(text) - 1);
        return new Served(text, promptTokens, completionTokens, finish, ttft);
    }

    /** Tokens of {@code text} with the reference tokenizer (BOS included); its UTF-8 bytes when it is too long to encode. */
    private int countTokens(String text) {
        try {
            return reference.engine().countTokens(text);
        } catch (dev.tokenmarket.inference.InferenceException e) {
            return text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + 1;
        }
    }
}
