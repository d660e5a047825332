package dev.tokenmarket.gateway;

import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.inference.TopLogprob;
import dev.tokenmarket.platform.Money;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The OpenAI wire shapes of completion answers: whole responses, stream chunks and log-probabilities. */
final class CompletionPayloads {

    private CompletionPayloads() {
    }

    /** The fields every answer and chunk of one generation shares. */
    record Header(String id, boolean chat, long created, String model, String provider, String endpointId) {
    }

    static Map<String, Object> whole(Header h, SpotFlow.Completion completion) {
        List<Map<String, Object>> choices = new ArrayList<>();
        for (Served.Choice c : completion.served().choices()) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("index", c.index());
            if (h.chat()) {
                choice.put("message", Map.of("role", "assistant", "content", c.text()));
            } else {
                choice.put("text", c.text());
            }
            choice.put("logprobs", c.tokens().isEmpty() ? null : h.chat() ? chatLogprobs(c.tokens()) : legacyLogprobs(c.tokens(), 0));
            choice.put("finish_reason", c.finishReason());
            choices.add(choice);
        }
        Map<String, Object> answer = start(h, h.chat() ? "chat.completion" : "text_completion");
        answer.put("choices", choices);
        answer.put("usage", usage(completion));
        return answer;
    }

    /** One streamed piece of text of one choice. */
    static Map<String, Object> delta(Header h, int index, String text, boolean withRole, GeneratedToken token, int textOffset) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", index);
        if (h.chat()) {
            Map<String, Object> delta = new LinkedHashMap<>();
            if (withRole) {
                delta.put("role", "assistant");
            }
            delta.put("content", text);
            choice.put("delta", delta);
        } else {
            choice.put("text", text);
        }
        choice.put("logprobs", token == null ? null : h.chat() ? chatLogprobs(List.of(token)) : legacyLogprobs(List.of(token), textOffset));
        choice.put("finish_reason", null);
        return chunk(h, List.of(choice));
    }

    /** The chunk closing one choice with its finish reason. */
    static Map<String, Object> finish(Header h, int index, String finishReason) {
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", index);
        if (h.chat()) {
            choice.put("delta", Map.of());
        } else {
            choice.put("text", "");
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", finishReason);
        return chunk(h, List.of(choice));
    }

    /** The last chunk before [DONE]: no choices, the usage with its cost (as OpenAI's include_usage does). */
    static Map<String, Object> usageChunk(Header h, SpotFlow.Completion completion) {
        Map<String, Object> chunk = chunk(h, List.of());
        chunk.put("usage", usage(completion));
        return chunk;
    }

    private static Map<String, Object> chunk(Header h, List<Map<String, Object>> choices) {
        Map<String, Object> chunk = start(h, h.chat() ? "chat.completion.chunk" : "text_completion");
        chunk.put("choices", choices);
        return chunk;
    }

    private static Map<String, Object> start(Header h, String object) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", h.id());
        m.put("object", object);
        m.put("created", h.created());
        m.put("model", h.model());
        m.put("provider", h.provider());
        m.put("endpoint_id", h.endpointId());
        return m;
    }

    private static Map<String, Object> usage(SpotFlow.Completion completion) {
        Served served = completion.served();
        Map<String, Object> usage = new LinkedHashMap<>();
        usage.put("prompt_tokens", served.promptTokens());
        usage.put("completion_tokens", served.completionTokens());
        usage.put("total_tokens", served.promptTokens() + served.completionTokens());
        usage.put("cost", Money.formatUsd(completion.costNanoUsd()));
        return usage;
    }

    /** Chat shape: {@code {"content": [{token, logprob, bytes, top_logprobs: [...]}]}}. */
    private static Map<String, Object> chatLogprobs(List<GeneratedToken> tokens) {
        List<Map<String, Object>> content = new ArrayList<>();
        for (GeneratedToken t : tokens) {
            Map<String, Object> entry = entry(t.token(), t.logprob());
            List<Map<String, Object>> top = new ArrayList<>();
            for (TopLogprob alt : t.topLogprobs()) {
                top.add(entry(alt.token(), alt.logprob()));
            }
            entry.put("top_logprobs", top);
            content.add(entry);
        }
        Map<String, Object> logprobs = new LinkedHashMap<>();
        logprobs.put("content", content);
        logprobs.put("refusal", null);
        return logprobs;
    }

    private static Map<String, Object> entry(String token, double logprob) {
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("token", token);
        entry.put("logprob", logprob);
        List<Integer> bytes = new ArrayList<>();
        for (byte b : token.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        entry.put("bytes", bytes);
        return entry;
    }

    /** Legacy completions shape: parallel arrays, alternatives as {token: logprob} maps. */
    private static Map<String, Object> legacyLogprobs(List<GeneratedToken> tokens, int firstOffset) {
        List<String> texts = new ArrayList<>();
        List<Double> logprobs = new ArrayList<>();
        List<Map<String, Double>> top = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        int offset = firstOffset;
        for (GeneratedToken t : tokens) {
            texts.add(t.token());
            logprobs.add(t.logprob());
            Map<String, Double> alternatives = new LinkedHashMap<>();
            t.topLogprobs().forEach(alt -> alternatives.putIfAbsent(alt.token(), alt.logprob()));
            top.add(alternatives);
            offsets.add(offset);
            offset += t.text().length();
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("tokens", texts);
        result.put("token_logprobs", logprobs);
        result.put("top_logprobs", top);
        result.put("text_offset", offsets);
        return result;
    }
}
