package dev.tokenmarket.metering;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.tokenmarket.platform.Money;

import java.io.IOException;
import java.util.UUID;
import java.util.function.BiConsumer;

/**
 * The usage event's JSON form, as described in contracts/asyncapi.yaml. Money travels as USD decimal
 * strings, like everywhere else in the API, and is parsed back into exact nano-USD.
 */
public final class UsageEventCodec {

    private static final JsonFactory JSON = new JsonFactory();
    private static final JsonStringEncoder ESCAPE = JsonStringEncoder.getInstance();

    private UsageEventCodec() {
    }

    /**
     * The event as JSON, fields always in this order: the ledger keeps a digest of these bytes with the
     * usage entry, so they must not change for the same event (UsageEventCodecTest holds them). Written by
     * hand because the ledger encodes every event it settles to digest it; only the free-text fields need
     * escaping, done as Jackson's generator does it.
     */
    public static String toJson(UsageEvent e) {
        StringBuilder out = new StringBuilder(640);
        out.append("{\"schema\":\"").append(UsageEvent.SCHEMA)
                .append("\",\"event_id\":\"").append(e.eventId())
                .append("\",\"occurred_at\":\"").append(e.occurredAt())
                .append("\",\"buyer_org_id\":\"").append(e.buyerOrgId())
                .append("\",\"api_key_id\":\"").append(e.apiKeyId())
                .append("\",\"endpoint_id\":\"").append(e.endpointId())
                .append("\",\"provider_org_id\":\"").append(e.providerOrgId())
                .append("\",\"model\":");
        appendJsonString(out, e.model())
                .append(",\"prompt_tokens\":").append(e.promptTokens())
                .append(",\"completion_tokens\":").append(e.completionTokens())
                .append(",\"pricing\":{\"prompt\":\"").append(Money.formatUsd(e.promptPriceNanoUsdPerMillionTokens()))
                .append("\",\"completion\":\"").append(Money.formatUsd(e.completionPriceNanoUsdPerMillionTokens()))
                .append("\"},\"cost\":\"").append(Money.formatUsd(e.costNanoUsd()))
                .append("\",\"fee\":\"").append(Money.formatUsd(e.feeNanoUsd()))
                .append("\",\"hold_id\":\"").append(e.holdId())
                .append("\",\"timings\":{\"ttft_ms\":").append(e.ttftMs())
                .append(",\"generation_ms\":").append(e.generationMs())
                .append(",\"latency_ms\":").append(e.latencyMs())
                .append("},\"finish_reason\":");
        appendJsonString(out, e.finishReason()).append('}');
        return out.toString();
    }

    /** Appends {@code value} as a JSON string, escaped as Jackson's generator escapes it (null as null). */
    public static StringBuilder appendJsonString(StringBuilder out, String value) {
        return value == null ? out.append("null") : out.append('"').append(ESCAPE.quoteAsString(value)).append('"');
    }

    /**
     * Parses an event; a message that is not a complete, well-formed event fails with a reason. Read as a
     * token stream (the ledger parses every event it settles): fields in any order, unknown ones skipped,
     * the last of a repeated field counts, a field of the wrong kind (an object or array where a value
     * belongs) counts as missing.
     */
    public static UsageEvent fromJson(String json) throws MalformedUsageEvent {
        try (JsonParser p = JSON.createParser(json)) {
            return read(p);
        } catch (IOException e) {
            throw new MalformedUsageEvent("not JSON: " + e.getMessage());
        }
    }

    /** {@link #fromJson(String)} from UTF-8 bytes, as the event arrives from Kafka. */
    public static UsageEvent fromJson(byte[] json) throws MalformedUsageEvent {
        try (JsonParser p = JSON.createParser(json)) {
            return read(p);
        } catch (IOException e) {
            throw new MalformedUsageEvent("not JSON: " + e.getMessage());
        }
    }

    /**
     * The event when {@code json} is exactly what {@link #toJson} writes for it (what every gateway sends),
     * so that those bytes are its canonical form as they are; null otherwise, for {@link #fromJson(byte[])}
     * to read it however it is written, or to explain what is wrong with it.
     */
    public static UsageEvent fromCanonicalJson(byte[] json) {
        return CanonicalUsageEventReader.read(json);
    }

    /** The fields of an event as read, before they are checked. */
    private static final class Fields {
        Object schema, eventId, occurredAt, buyerOrgId, apiKeyId, endpointId, providerOrgId, model,
                promptTokens, completionTokens, promptPrice, completionPrice, cost, fee, holdId,
                ttftMs, generationMs, latencyMs, finishReason;
    }

    private static UsageEvent read(JsonParser p) throws IOException, MalformedUsageEvent {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new MalformedUsageEvent("not a JSON object");
        }
        Fields f = new Fields();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken token = p.nextToken();
            switch (name) {
                case "pricing" -> readPricing(p, token, f);
                case "timings" -> readTimings(p, token, f);
                default -> {
                    Object value = scalar(p, token);
                    switch (name) {
                        case "schema" -> f.schema = value;
                        case "event_id" -> f.eventId = value;
                        case "occurred_at" -> f.occurredAt = value;
                        case "buyer_org_id" -> f.buyerOrgId = value;
                        case "api_key_id" -> f.apiKeyId = value;
                        case "endpoint_id" -> f.endpointId = value;
                        case "provider_org_id" -> f.providerOrgId = value;
                        case "model" -> f.model = value;
                        case "prompt_tokens" -> f.promptTokens = value;
                        case "completion_tokens" -> f.completionTokens = value;
                        case "cost" -> f.cost = value;
                        case "fee" -> f.fee = value;
                        case "hold_id" -> f.holdId = value;
                        case "finish_reason" -> f.finishReason = value;
                        default -> {
                            // unknown fields are ignored, as the contract promises consumers
                        }
                    }
                }
            }
        }
        if (!UsageEvent.SCHEMA.equals(f.schema)) {
            throw new MalformedUsageEvent("schema must be " + UsageEvent.SCHEMA);
        }
        try {
            return new UsageEvent(
                    uuid(f.eventId, "event_id"),
                    IsoInstants.parse(text(f.occurredAt, "occurred_at")),
                    uuid(f.buyerOrgId, "buyer_org_id"),
                    uuid(f.apiKeyId, "api_key_id"),
                    uuid(f.endpointId, "endpoint_id"),
                    uuid(f.providerOrgId, "provider_org_id"),
                    text(f.model, "model"),
                    count(f.promptTokens, "prompt_tokens"),
                    count(f.completionTokens, "completion_tokens"),
                    Money.parseUsd(text(f.promptPrice, "pricing.prompt"), "pricing.prompt"),
                    Money.parseUsd(text(f.completionPrice, "pricing.completion"), "pricing.completion"),
                    Money.parseUsd(text(f.cost, "cost"), "cost"),
                    Money.parseUsd(text(f.fee, "fee"), "fee"),
                    uuid(f.holdId, "hold_id"),
                    millis(f.ttftMs),
                    millis(f.generationMs),
                    millis(f.latencyMs),
                    text(f.finishReason, "finish_reason"));
        } catch (RuntimeException e) {
            throw new MalformedUsageEvent(e.getMessage());
        }
    }

    private static void readPricing(JsonParser p, JsonToken token, Fields f) throws IOException {
        boolean object = readMembers(p, token, (name, value) -> {
            switch (name) {
                case "prompt" -> f.promptPrice = value;
                case "completion" -> f.completionPrice = value;
                default -> {
                }
            }
        });
        if (!object) {
            f.promptPrice = f.completionPrice = null;
        }
    }

    private static void readTimings(JsonParser p, JsonToken token, Fields f) throws IOException {
        boolean object = readMembers(p, token, (name, value) -> {
            switch (name) {
                case "ttft_ms" -> f.ttftMs = value;
                case "generation_ms" -> f.generationMs = value;
                case "latency_ms" -> f.latencyMs = value;
                default -> {
                }
            }
        });
        if (!object) {
            f.ttftMs = f.generationMs = f.latencyMs = null;
        }
    }

    /**
     * Hands each member of the object starting at {@code token} to {@code member}, its value read as by
     * {@link #scalar}; false (and the value skipped) when it is not an object.
     */
    private static boolean readMembers(JsonParser p, JsonToken token, BiConsumer<String, Object> member)
            throws IOException {
        if (token != JsonToken.START_OBJECT) {
            p.skipChildren();
            return false;
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            member.accept(name, scalar(p, p.nextToken()));
        }
        return true;
    }

    /** A string or a number as read; null for anything else (an object or array is skipped whole). */
    private static Object scalar(JsonParser p, JsonToken token) throws IOException {
        return switch (token) {
            case VALUE_STRING -> p.getText();
            case VALUE_NUMBER_INT -> p.getNumberValue();
            case VALUE_NUMBER_FLOAT -> p.getDoubleValue();
            case START_OBJECT, START_ARRAY -> {
                p.skipChildren();
                yield null;
            }
            default -> null;
        };
    }

    private static String text(Object value, String field) {
        if (!(value instanceof String text)) {
            throw new IllegalArgumentException("field " + field + " is missing or not a string");
        }
        return text;
    }

    private static UUID uuid(Object value, String field) {
        return UUID.fromString(text(value, field));
    }

    private static int count(Object value, String field) {
        if (!(value instanceof Integer i) || i < 0) {
            throw new IllegalArgumentException("field " + field + " must be a non-negative integer");
        }
        return i;
    }

    /** Timings are informational: absent or unreadable, they count as 0. */
    private static long millis(Object value) {
        if (value instanceof Number n) {
            return n.longValue();
        }
        if (value instanceof String s) {
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
