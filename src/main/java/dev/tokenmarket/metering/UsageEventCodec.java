package dev.tokenmarket.metering;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmarket.platform.Money;

import java.io.IOException;
import java.time.Instant;
import java.util.UUID;

/**
 * The usage event's JSON form, as described in contracts/asyncapi.yaml. Money travels as USD decimal
 * strings, like everywhere else in the API, and is parsed back into exact nano-USD.
 */
public final class UsageEventCodec {

    private static final ObjectMapper JSON = new ObjectMapper();

    private UsageEventCodec() {
    }

    public static String toJson(UsageEvent e) {
        ObjectNode n = JSON.createObjectNode();
        n.put("schema", UsageEvent.SCHEMA);
        n.put("event_id", e.eventId().toString());
        n.put("occurred_at", e.occurredAt().toString());
        n.put("buyer_org_id", e.buyerOrgId().toString());
        n.put("api_key_id", e.apiKeyId().toString());
        n.put("endpoint_id", e.endpointId().toString());
        n.put("provider_org_id", e.providerOrgId().toString());
        n.put("model", e.model());
        n.put("prompt_tokens", e.promptTokens());
        n.put("completion_tokens", e.completionTokens());
        ObjectNode pricing = n.putObject("pricing");
        pricing.put("prompt", Money.formatUsd(e.promptPriceNanoUsdPerMillionTokens()));
        pricing.put("completion", Money.formatUsd(e.completionPriceNanoUsdPerMillionTokens()));
        n.put("cost", Money.formatUsd(e.costNanoUsd()));
        n.put("fee", Money.formatUsd(e.feeNanoUsd()));
        n.put("hold_id", e.holdId().toString());
        ObjectNode timings = n.putObject("timings");
        timings.put("ttft_ms", e.ttftMs());
        timings.put("generation_ms", e.generationMs());
        timings.put("latency_ms", e.latencyMs());
        n.put("finish_reason", e.finishReason());
        return n.toString();
    }

    /** Parses an event; a message that is not a complete, well-formed event fails with a reason. */
    public static UsageEvent fromJson(String json) throws MalformedUsageEvent {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (IOException e) {
            throw new MalformedUsageEvent("not JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw new MalformedUsageEvent("not a JSON object");
        }
        if (!UsageEvent.SCHEMA.equals(text(n, "schema"))) {
            throw new MalformedUsageEvent("schema must be " + UsageEvent.SCHEMA);
        }
        try {
            return new UsageEvent(
                    uuid(n, "event_id"),
                    Instant.parse(text(n, "occurred_at")),
                    uuid(n, "buyer_org_id"),
                    uuid(n, "api_key_id"),
                    uuid(n, "endpoint_id"),
                    uuid(n, "provider_org_id"),
                    text(n, "model"),
                    count(n, "prompt_tokens"),
                    count(n, "completion_tokens"),
                    Money.parseUsd(text(n.path("pricing"), "prompt"), "pricing.prompt"),
                    Money.parseUsd(text(n.path("pricing"), "completion"), "pricing.completion"),
                    Money.parseUsd(text(n, "cost"), "cost"),
                    Money.parseUsd(text(n, "fee"), "fee"),
                    uuid(n, "hold_id"),
                    n.path("timings").path("ttft_ms").asLong(0),
                    n.path("timings").path("generation_ms").asLong(0),
                    n.path("timings").path("latency_ms").asLong(0),
                    text(n, "finish_reason"));
        } catch (RuntimeException e) {
            throw new MalformedUsageEvent(e.getMessage());
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("field " + field + " is missing or not a string");
        }
        return v.asText();
    }

    private static UUID uuid(JsonNode n, String field) {
        return UUID.fromString(text(n, field));
    }

    private static int count(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0) {
            throw new IllegalArgumentException("field " + field + " must be a non-negative integer");
        }
        return v.asInt();
    }

    public static final class MalformedUsageEvent extends Exception {
        public MalformedUsageEvent(String reason) {
            super(reason, null, false, false);
        }
    }
}
