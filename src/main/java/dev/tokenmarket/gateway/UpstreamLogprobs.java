package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.inference.TopLogprob;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Reads the log-probabilities an OpenAI-compatible upstream sent with a choice (or a stream chunk's choice),
 * in either of OpenAI's shapes, into the tokens the gateway's responses are written from. Upstreams do not
 * say their token ids, so every token and alternative carries {@link #NO_TOKEN_ID}. Anything missing or
 * malformed reads as no tokens: log-probabilities are informational and never fail a paid request.
 */
final class UpstreamLogprobs {

    /** The token id of a token an upstream reported: unknown. */
    static final int NO_TOKEN_ID = -2;

    private UpstreamLogprobs() {
    }

    static List<GeneratedToken> read(JsonNode logprobs) {
        if (logprobs == null || !logprobs.isObject()) {
            return List.of();
        }
        return logprobs.has("content") ? chat(logprobs.path("content")) : legacy(logprobs);
    }

    /** Chat: {@code {"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]}}. */
    private static List<GeneratedToken> chat(JsonNode content) {
        List<GeneratedToken> tokens = new ArrayList<>();
        for (JsonNode entry : content) {
            if (!entry.path("token").isTextual() || !entry.path("logprob").isNumber()) {
                continue;
            }
            List<TopLogprob> alternatives = new ArrayList<>();
            for (JsonNode alt : entry.path("top_logprobs")) {
                if (alt.path("token").isTextual() && alt.path("logprob").isNumber()) {
                    alternatives.add(new TopLogprob(NO_TOKEN_ID, alt.get("token").asText(), alt.get("logprob").asDouble()));
                }
            }
            String token = entry.get("token").asText();
            tokens.add(new GeneratedToken(token, NO_TOKEN_ID, token, entry.get("logprob").asDouble(), alternatives));
        }
        return tokens;
    }

    /** Legacy completions: parallel arrays {@code tokens}, {@code token_logprobs}, {@code top_logprobs} (maps). */
    private static List<GeneratedToken> legacy(JsonNode logprobs) {
        JsonNode texts = logprobs.path("tokens");
        JsonNode values = logprobs.path("token_logprobs");
        JsonNode tops = logprobs.path("top_logprobs");
        List<GeneratedToken> tokens = new ArrayList<>();
        for (int i = 0; i < texts.size() && i < values.size(); i++) {
            if (!texts.get(i).isTextual() || !values.get(i).isNumber()) {
                continue;
            }
            List<TopLogprob> alternatives = new ArrayList<>();
            JsonNode top = tops.path(i);
            for (Iterator<Map.Entry<String, JsonNode>> it = top.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> alt = it.next();
                if (alt.getValue().isNumber()) {
                    alternatives.add(new TopLogprob(NO_TOKEN_ID, alt.getKey(), alt.getValue().asDouble()));
                }
            }
            String token = texts.get(i).asText();
            tokens.add(new GeneratedToken(token, NO_TOKEN_ID, token, values.get(i).asDouble(), alternatives));
        }
        return tokens;
    }
}
