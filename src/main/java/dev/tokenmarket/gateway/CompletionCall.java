package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.inference.ChatMessage;
import dev.tokenmarket.inference.ChatTemplate;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.RoutingPreferences;
import dev.tokenmarket.catalog.SamplingParameter;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A validated OpenAI-style completion or chat request. Parsing names the offending field in every error;
 * parameters the API does not know are ignored, as OpenAI does.
 */
public record CompletionCall(boolean chat, String model, String prompt, List<ChatMessage> messages, Integer maxTokens,
                             double temperature, double topP, int topK, Long seed, List<String> stop,
                             boolean stream, RoutingPreferences routing, int n, double presencePenalty,
                             double frequencyPenalty, boolean logprobs, int topLogprobs, String user) {

    /** Choices per request; each is a full generation, so the hold grows with n. */
    public static final int CHOICES_MAX = 8;
    /** Legacy completions take logprobs as the number of alternatives, at most 5 as in OpenAI's API. */
    private static final int LEGACY_LOGPROBS_MAX = 5;
    private static final int USER_LENGTH_MAX = 256;

    private static final int STOP_SEQUENCES_MAX = 4;
    private static final int MESSAGES_MAX = 1_000;
    private static final int LIST_ENTRIES_MAX = 100;
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "developer", "tool");
    private static final Set<String> SORTS = Set.of("price", "throughput", "latency");

    public static CompletionCall parse(JsonNode body, boolean chat) {
        if (body == null) {
            // An empty body (Content-Length: 0, or a chunked body without chunks) reaches here as null.
            throw new ApiException(ErrorCode.MALFORMED_JSON, "The request body is empty; send a JSON object.");
        }
        if (!body.isObject()) {
            throw ApiException.invalid("body", "The request body must be a JSON object.");
        }
        refuseNul(body, "");
        String model = requiredText(body, "model");
        String prompt = null;
        List<ChatMessage> messages = null;
        if (chat) {
            messages = messages(body.get("messages"));
        } else {
            prompt = prompt(body.get("prompt"));
        }
        Integer maxTokens = optionalInt(body, chat && body.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens", 1, Integer.MAX_VALUE);
        double temperature = optionalNumber(body, "temperature", 0, 2, 1.0);
        double topP = optionalNumber(body, "top_p", 0, 1, 1.0);
        if (topP == 0) {
            throw ApiException.invalid("top_p", "Field 'top_p' must be in (0, 1]; got 0.");
        }
        Integer topK = optionalInt(body, "top_k", 0, Integer.MAX_VALUE);
        JsonNode seedNode = body.get("seed");
        Long seed = null;
        if (seedNode != null && !seedNode.isNull()) {
            if (!seedNode.isIntegralNumber() || !seedNode.canConvertToLong()) {
                throw ApiException.invalid("seed", "Field 'seed' must be an integer.");
            }
            seed = seedNode.asLong();
        }
        Integer n = optionalInt(body, "n", 1, CHOICES_MAX);
        boolean stream = optionalBoolean(body, "stream", false);
        double presencePenalty = optionalNumber(body, "presence_penalty", -2, 2, 0);
        double frequencyPenalty = optionalNumber(body, "frequency_penalty", -2, 2, 0);
        boolean logprobs;
        int topLogprobs;
        if (chat) {
            logprobs = optionalBoolean(body, "logprobs", false);
            Integer top = optionalInt(body, "top_logprobs", 0, 20);
            if (top != null && top > 0 && !logprobs) {
                throw ApiException.invalid("top_logprobs", "Field 'top_logprobs' needs 'logprobs': true.");
            }
            topLogprobs = top == null ? 0 : top;
        } else {
            // The legacy completions API takes logprobs as the number of alternatives to list (0 lists none).
            Integer legacy = optionalInt(body, "logprobs", 0, LEGACY_LOGPROBS_MAX);
            logprobs = legacy != null;
            topLogprobs = legacy == null ? 0 : legacy;
        }
        JsonNode userNode = body.get("user");
        if (userNode != null && !userNode.isNull() && (!userNode.isTextual() || userNode.asText().length() > USER_LENGTH_MAX)) {
            throw ApiException.invalid("user", "Field 'user' must be a string of at most " + USER_LENGTH_MAX + " characters.");
        }
        List<String> stop = stop(body.get("stop"));
        String user = userNode == null || userNode.isNull() ? null : userNode.asText();
        RoutingPreferences routing = routing(body.get("provider"));
        long used = usedParameters(body, topK, stop, seed, presencePenalty, frequencyPenalty, logprobs, topLogprobs,
                n, user);
        // Several choices change the answer's shape, so they are never dropped silently: an endpoint whose
        // backend cannot produce them is not a candidate. Other parameters an upstream does not take are
        // dropped (as OpenRouter does) unless the buyer requires them.
        long required = (optionalBoolean(body.path("provider"), "require_parameters", "provider.", false) ? used : 0)
                | (used & SamplingParameter.N.bit());
        return new CompletionCall(chat, model, prompt, messages, maxTokens, temperature, topP, topK == null ? 0 : topK,
                seed, stop, stream, required == 0 ? routing : routing.requiring(required), n == null ? 1 : n,
                presencePenalty, frequencyPenalty, logprobs, topLogprobs, user);
    }

    /** The optional parameters this request sets to something other than their "off" value. */
    private static long usedParameters(JsonNode body, Integer topK, List<String> stop, Long seed, double presencePenalty,
                                       double frequencyPenalty, boolean logprobs, int topLogprobs, Integer n, String user) {
        long used = 0;
        used |= body.hasNonNull("temperature") ? SamplingParameter.TEMPERATURE.bit() : 0;
        used |= body.hasNonNull("top_p") ? SamplingParameter.TOP_P.bit() : 0;
        used |= topK != null && topK > 0 ? SamplingParameter.TOP_K.bit() : 0;
        used |= !stop.isEmpty() ? SamplingParameter.STOP.bit() : 0;
        used |= seed != null ? SamplingParameter.SEED.bit() : 0;
        used |= presencePenalty != 0 ? SamplingParameter.PRESENCE_PENALTY.bit() : 0;
        used |= frequencyPenalty != 0 ? SamplingParameter.FREQUENCY_PENALTY.bit() : 0;
        used |= logprobs ? SamplingParameter.LOGPROBS.bit() : 0;
        used |= topLogprobs > 0 ? SamplingParameter.TOP_LOGPROBS.bit() : 0;
        used |= n != null && n > 1 ? SamplingParameter.N.bit() : 0;
        used |= user != null ? SamplingParameter.USER.bit() : 0;
        return used;
    }

    /** The prompt as the backend sees it: the chat template applied to the messages, or the raw prompt. */
    public String promptText() {
        return chat ? ChatTemplate.render(messages) : prompt;
    }

    /**
     * Refuses a NUL anywhere in the body's strings, naming where, as the /api paths do: no prompt, name or
     * stop sequence has a use for one, and a NUL would otherwise reach the tokenizer and the usage records.
     */
    private static void refuseNul(JsonNode node, String path) {
        if (node.isTextual() && node.textValue().indexOf('\0') >= 0) {
            throw ApiException.invalid(path, "Field '" + path + "' holds a NUL character (\\u0000); remove it.");
        }
        if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                refuseNul(node.get(i), path + "[" + i + "]");
            }
        }
        node.properties().forEach(field -> refuseNul(field.getValue(), path.isEmpty() ? field.getKey() : path + "." + field.getKey()));
    }

    private static String prompt(JsonNode node) {
        if (node == null || node.isNull()) {
            return "";
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray() && node.size() == 1 && node.get(0).isTextual()) {
            return node.get(0).asText();
        }
        throw ApiException.invalid("prompt", "Field 'prompt' must be a string (or an array of one string).");
    }

    private static List<ChatMessage> messages(JsonNode node) {
        if (node == null || !node.isArray() || node.isEmpty()) {
            throw ApiException.invalid("messages", "Field 'messages' must be a non-empty array of {role, content}.");
        }
        if (node.size() > MESSAGES_MAX) {
            throw ApiException.invalid("messages", "Field 'messages' has more than " + MESSAGES_MAX + " entries.");
        }
        List<ChatMessage> result = new ArrayList<>();
        for (int i = 0; i < node.size(); i++) {
            JsonNode m = node.get(i);
            String field = "messages[" + i + "]";
            if (!m.isObject()) {
                throw ApiException.invalid(field, "Field '" + field + "' must be an object {role, content}.");
            }
            String role = m.path("role").asText(null);
            if (role == null || !ROLES.contains(role)) {
                throw ApiException.invalid(field + ".role", "Field '" + field + ".role' must be one of " + ROLES + ".");
            }
            result.add(new ChatMessage(role, content(m.get("content"), field + ".content")));
        }
        return result;
    }

    /**
     * Content is a string, or an array of parts of which the text parts are joined. A missing or null content
     * is refused, as OpenAI does: served as "" it would bill a prompt the buyer never wrote.
     */
    private static String content(JsonNode node, String field) {
        if (node == null || node.isNull()) {
            throw ApiException.invalid(field, "Field '" + field + "' is required: a string (\"\" for an empty message) or an array of text parts.");
        }
        if (node.isTextual()) {
            return node.asText();
        }
        if (node.isArray()) {
            StringBuilder text = new StringBuilder();
            for (JsonNode part : node) {
                if ("text".equals(part.path("type").asText()) && part.path("text").isTextual()) {
                    text.append(part.path("text").asText());
                } else {
                    throw ApiException.invalid(field, "Field '" + field + "' may only hold text parts here.");
                }
            }
            return text.toString();
        }
        throw ApiException.invalid(field, "Field '" + field + "' must be a string.");
    }

    private static List<String> stop(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (node.isTextual()) {
            return List.of(node.asText());
        }
        if (node.isArray() && node.size() <= STOP_SEQUENCES_MAX) {
            List<String> result = new ArrayList<>();
            for (JsonNode s : node) {
                if (!s.isTextual() || s.asText().isEmpty()) {
                    throw ApiException.invalid("stop", "Field 'stop' entries must be non-empty strings.");
                }
                result.add(s.asText());
            }
            return result;
        }
        throw ApiException.invalid("stop", "Field 'stop' must be a string or an array of up to " + STOP_SEQUENCES_MAX + " strings.");
    }

    private static RoutingPreferences routing(JsonNode p) {
        if (p == null || p.isNull()) {
            return RoutingPreferences.DEFAULT;
        }
        if (!p.isObject()) {
            throw ApiException.invalid("provider", "Field 'provider' must be an object.");
        }
        String sort = p.hasNonNull("sort") ? p.get("sort").asText() : null;
        if (sort != null && !SORTS.contains(sort)) {
            throw ApiException.invalid("provider.sort", "Field 'provider.sort' must be \"price\", \"throughput\" or \"latency\".");
        }
        JsonNode maxPrice = p.get("max_price");
        Long maxPrompt = null;
        Long maxCompletion = null;
        if (maxPrice != null && !maxPrice.isNull()) {
            if (!maxPrice.isObject()) {
                throw ApiException.invalid("provider.max_price", "Field 'provider.max_price' must be {prompt, completion} in USD per 1M tokens.");
            }
            maxPrompt = usd(maxPrice.get("prompt"), "provider.max_price.prompt");
            maxCompletion = usd(maxPrice.get("completion"), "provider.max_price.completion");
        }
        return new RoutingPreferences(sort, names(p.get("order"), "provider.order"), names(p.get("only"), "provider.only"),
                names(p.get("ignore"), "provider.ignore"), optionalBoolean(p, "allow_fallbacks", "provider.", true), maxPrompt, maxCompletion,
                optionalInt(p, "preferred_min_throughput", "provider.", 0, Integer.MAX_VALUE),
                optionalInt(p, "preferred_max_latency", "provider.", 0, Integer.MAX_VALUE), 0);
    }

    /** Accepts a decimal string (the API's money form) or a plain number, as OpenRouter clients send either. */
    private static Long usd(JsonNode node, String field) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (node.isTextual()) {
            return Money.parseUsd(node.asText(), field);
        }
        if (node.isNumber()) {
            return Money.parseUsd(node.decimalValue().toPlainString(), field);
        }
        throw ApiException.invalid(field, "Field '" + field + "' must be a USD amount such as \"0.60\".");
    }

    private static List<String> names(JsonNode node, String field) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (!node.isArray() || node.size() > LIST_ENTRIES_MAX) {
            throw ApiException.invalid(field, "Field '" + field + "' must be an array of up to " + LIST_ENTRIES_MAX + " strings.");
        }
        List<String> result = new ArrayList<>();
        for (JsonNode s : node) {
            if (!s.isTextual()) {
                throw ApiException.invalid(field, "Field '" + field + "' entries must be strings.");
            }
            result.add(s.asText());
        }
        return result;
    }

    private static String requiredText(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || !node.isTextual() || node.asText().isBlank()) {
            throw ApiException.invalid(field, "Field '" + field + "' is required and must be a string.");
        }
        return node.asText();
    }

    private static Integer optionalInt(JsonNode body, String field, int min, int max) {
        return optionalInt(body, field, "", min, max);
    }

    /** {@code prefix} is the path of {@code body} in the request, so errors name the field in full. */
    private static Integer optionalInt(JsonNode body, String field, String prefix, int min, int max) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() < min || node.asInt() > max) {
            throw ApiException.invalid(prefix + field, "Field '" + prefix + field + "' must be an integer between " + min + " and " + max + ".");
        }
        return node.asInt();
    }

    private static double optionalNumber(JsonNode body, String field, double min, double max, double fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isNumber() || node.asDouble() < min || node.asDouble() > max) {
            throw ApiException.invalid(field, "Field '" + field + "' must be a number between " + min + " and " + max + ".");
        }
        return node.asDouble();
    }

    private static boolean optionalBoolean(JsonNode body, String field, boolean fallback) {
        return optionalBoolean(body, field, "", fallback);
    }

    private static boolean optionalBoolean(JsonNode body, String field, String prefix, boolean fallback) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return fallback;
        }
        if (!node.isBoolean()) {
            throw ApiException.invalid(prefix + field, "Field '" + prefix + field + "' must be true or false.");
        }
        return node.asBoolean();
    }
}
