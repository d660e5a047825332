package dev.tokenmarket.metering;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.tokenmarket.platform.Money;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The usage event's JSON form, as described in contracts/asyncapi.yaml. Money travels as USD decimal
 * strings, like everywhere else in the API, and is parsed back into exact nano-USD.
 */
public final class UsageEventCodec {

    private static final JsonFactory JSON = new JsonFactory();

    private UsageEventCodec() {
    }

    /**
     * The event as JSON, fields always in this order: the ledger keeps a digest of these bytes with the
     * usage entry, so they must not change for the same event (UsageEventCodecTest holds them).
     */
    public static String toJson(UsageEvent e) {
        StringWriter out = new StringWriter(640);
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("schema", UsageEvent.SCHEMA);
            g.writeStringField("event_id", e.eventId().toString());
            g.writeStringField("occurred_at", e.occurredAt().toString());
            g.writeStringField("buyer_org_id", e.buyerOrgId().toString());
            g.writeStringField("api_key_id", e.apiKeyId().toString());
            g.writeStringField("endpoint_id", e.endpointId().toString());
            g.writeStringField("provider_org_id", e.providerOrgId().toString());
            g.writeStringField("model", e.model());
            g.writeNumberField("prompt_tokens", e.promptTokens());
            g.writeNumberField("completion_tokens", e.completionTokens());
            g.writeObjectFieldStart("pricing");
            g.writeStringField("prompt", Money.formatUsd(e.promptPriceNanoUsdPerMillionTokens()));
            g.writeStringField("completion", Money.formatUsd(e.completionPriceNanoUsdPerMillionTokens()));
            g.writeEndObject();
            g.writeStringField("cost", Money.formatUsd(e.costNanoUsd()));
            g.writeStringField("fee", Money.formatUsd(e.feeNanoUsd()));
            g.writeStringField("hold_id", e.holdId().toString());
            g.writeObjectFieldStart("timings");
            g.writeNumberField("ttft_ms", e.ttftMs());
            g.writeNumberField("generation_ms", e.generationMs());
            g.writeNumberField("latency_ms", e.latencyMs());
            g.writeEndObject();
            g.writeStringField("finish_reason", e.finishReason());
            g.writeEndObject();
        } catch (IOException ex) {
            throw new UncheckedIOException(ex);
        }
        return out.toString();
    }

    /**
     * Parses an event; a message that is not a complete, well-formed event fails with a reason. Read as a
     * token stream (the ledger parses every event it settles): fields in any order, unknown ones skipped,
     * the last of a repeated field counts.
     */
    public static UsageEvent fromJson(String json) throws MalformedUsageEvent {
        Map<String, Object> fields = new HashMap<>(32);
        try (JsonParser p = JSON.createParser(json)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new MalformedUsageEvent("not a JSON object");
            }
            readObject(p, "", fields);
        } catch (IOException e) {
            throw new MalformedUsageEvent("not JSON: " + e.getMessage());
        }
        if (!UsageEvent.SCHEMA.equals(fields.get("schema"))) {
            throw new MalformedUsageEvent("schema must be " + UsageEvent.SCHEMA);
        }
        try {
            return new UsageEvent(
                    uuid(fields, "event_id"),
                    Instant.parse(text(fields, "occurred_at")),
                    uuid(fields, "buyer_org_id"),
                    uuid(fields, "api_key_id"),
                    uuid(fields, "endpoint_id"),
                    uuid(fields, "provider_org_id"),
                    text(fields, "model"),
                    count(fields, "prompt_tokens"),
                    count(fields, "completion_tokens"),
                    Money.parseUsd(text(fields, "pricing.prompt"), "pricing.prompt"),
                    Money.parseUsd(text(fields, "pricing.completion"), "pricing.completion"),
                    Money.parseUsd(text(fields, "cost"), "cost"),
                    Money.parseUsd(text(fields, "fee"), "fee"),
                    uuid(fields, "hold_id"),
                    millis(fields, "timings.ttft_ms"),
                    millis(fields, "timings.generation_ms"),
                    millis(fields, "timings.latency_ms"),
                    text(fields, "finish_reason"));
        } catch (RuntimeException e) {
            throw new MalformedUsageEvent(e.getMessage());
        }
    }

    /** Collects the object's scalar fields under their dotted path; arrays are skipped whole. */
    private static void readObject(JsonParser p, String prefix, Map<String, Object> fields) throws IOException {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = prefix + p.currentName();
            JsonToken value = p.nextToken();
            switch (value) {
                case START_OBJECT -> readObject(p, name + ".", fields);
                case START_ARRAY -> {
                    p.skipChildren();
                    fields.remove(name);
                }
                case VALUE_STRING -> fields.put(name, p.getText());
                case VALUE_NUMBER_INT -> fields.put(name, p.getNumberValue());
                case VALUE_NUMBER_FLOAT -> fields.put(name, p.getDoubleValue());
                default -> fields.remove(name);
            }
        }
    }

    private static String text(Map<String, Object> fields, String field) {
        if (!(fields.get(field) instanceof String value)) {
            throw new IllegalArgumentException("field " + field + " is missing or not a string");
        }
        return value;
    }

    private static UUID uuid(Map<String, Object> fields, String field) {
        return UUID.fromString(text(fields, field));
    }

    private static int count(Map<String, Object> fields, String field) {
        Object v = fields.get(field);
        if (!(v instanceof Integer i) || i < 0) {
            throw new IllegalArgumentException("field " + field + " must be a non-negative integer");
        }
        return i;
    }

    /** Timings are informational: absent or unreadable, they count as 0. */
    private static long millis(Map<String, Object> fields, String field) {
        Object v = fields.get(field);
        if (v instanceof Number n) {
            return n.longValue();
        }
        if (v instanceof String s) {
            try {
                return Long.parseLong(s.trim());
            } catch (NumberFormatException e) {
                return 0;
            }
        }
        return 0;
    }

    public static final class MalformedUsageEvent extends Exception {
        public MalformedUsageEvent(String reason) {
            super(reason, null, false, false);
        }
    }
}
