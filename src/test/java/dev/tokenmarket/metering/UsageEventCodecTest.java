package dev.tokenmarket.metering;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The usage event's wire form. Its exact bytes matter beyond Kafka: the ledger stores a digest of them
 * with every usage entry, so an event re-sent after an upgrade must still encode to the same bytes, or the
 * ledger would take it for a different event under the same id.
 */
class UsageEventCodecTest {

    private static final UsageEvent EVENT = new UsageEvent(
            UUID.fromString("01a2a6b0-0000-7000-8000-000000000001"), Instant.parse("2026-11-29T09:30:00.123456Z"),
            UUID.fromString("00000000-0000-0000-0000-0000000000b1"), UUID.fromString("00000000-0000-0000-0000-0000000000a1"),
            UUID.fromString("00000000-0000-0000-0000-0000000000e1"), UUID.fromString("00000000-0000-0000-0000-0000000000c1"),
            "stories \"260k\"", 12, 200, 1_000_000_000L, 2_000_000_000L, 412_000L, 20_600L,
            UUID.fromString("01a2a6b0-0000-7000-8000-0000000000d1"), 7, 50, 58, "length");

    /** Written by the Jackson tree encoder this codec used before it streamed; the bytes may never change. */
    private static final String WIRE = "{\"schema\":\"tokenmarket.usage.v1\",\"event_id\":\"01a2a6b0-0000-7000-8000-000000000001\","
            + "\"occurred_at\":\"2026-11-29T09:30:00.123456Z\",\"buyer_org_id\":\"00000000-0000-0000-0000-0000000000b1\","
            + "\"api_key_id\":\"00000000-0000-0000-0000-0000000000a1\",\"endpoint_id\":\"00000000-0000-0000-0000-0000000000e1\","
            + "\"provider_org_id\":\"00000000-0000-0000-0000-0000000000c1\",\"model\":\"stories \\\"260k\\\"\","
            + "\"prompt_tokens\":12,\"completion_tokens\":200,\"pricing\":{\"prompt\":\"1.00\",\"completion\":\"2.00\"},"
            + "\"cost\":\"0.000412\",\"fee\":\"0.0000206\",\"hold_id\":\"01a2a6b0-0000-7000-8000-0000000000d1\","
            + "\"timings\":{\"ttft_ms\":7,\"generation_ms\":50,\"latency_ms\":58},\"finish_reason\":\"length\"}";

    @Test
    void encodesToTheSameBytesAsEverAndDecodesBack() throws Exception {
        assertEquals(WIRE, UsageEventCodec.toJson(EVENT));
        assertEquals(EVENT, UsageEventCodec.fromJson(WIRE));
    }

    @Test
    void readsTheSameEventFromTheRecordBytesAsFromText() throws Exception {
        assertEquals(EVENT, UsageEventCodec.fromJson(WIRE.getBytes(StandardCharsets.UTF_8)));
        UsageEvent accented = new UsageEvent(EVENT.eventId(), EVENT.occurredAt(), EVENT.buyerOrgId(), EVENT.apiKeyId(),
                EVENT.endpointId(), EVENT.providerOrgId(), "modèle\t\u00e9\u4e2d\n", 12, 200, 1_000_000_000L, 2_000_000_000L,
                412_000L, 20_600L, EVENT.holdId(), 7, 50, 58, "stop");
        String json = UsageEventCodec.toJson(accented);
        assertTrue(json.contains("\"model\":\"modèle\\t\u00e9\u4e2d\\n\""), json);
        assertEquals(accented, UsageEventCodec.fromJson(json.getBytes(StandardCharsets.UTF_8)));
        assertReason("not JSON", new byte[] {'{', '"', (byte) 0xC3, '"'});
        UsageEvent unfinished = new UsageEvent(EVENT.eventId(), EVENT.occurredAt(), EVENT.buyerOrgId(), EVENT.apiKeyId(),
                EVENT.endpointId(), EVENT.providerOrgId(), EVENT.model(), 12, 200, 1_000_000_000L, 2_000_000_000L,
                412_000L, 20_600L, EVENT.holdId(), 7, 50, 58, null);
        String withNull = UsageEventCodec.toJson(unfinished);
        assertTrue(withNull.endsWith(",\"finish_reason\":null}"), "written as the Jackson generator wrote it: " + withNull);
        assertReason("field finish_reason is missing", withNull);
    }

    @Test
    void readsEveryShapeOfInstantTheIsoSyntaxAllows() throws Exception {
        String[] written = {"2026-11-29T09:30:00Z", "2026-11-29T09:30:00.1Z", "2026-11-29T09:30:00.120Z",
                "2026-11-29T09:30:00.123456789Z", "2024-02-29T23:59:59.999Z", "1970-01-01T00:00:00Z", "0001-01-01T00:00:00Z"};
        for (String instant : written) {
            assertEquals(Instant.parse(instant), UsageEventCodec.fromJson(WIRE.replace("2026-11-29T09:30:00.123456Z", instant)).occurredAt(), instant);
        }
        // Shapes left to the general parser, read as it always read them: an offset instead of Z, the end of
        // the day as 24:00, an empty fraction.
        String[] general = {"2026-11-29T09:30:00+01:00", "2026-11-29T08:30:00Z",
                "2026-11-29T24:00:00Z", "2026-11-30T00:00:00Z", "2026-11-29T09:30:00.Z", "2026-11-29T09:30:00Z"};
        for (int i = 0; i < general.length; i += 2) {
            assertEquals(Instant.parse(general[i + 1]),
                    UsageEventCodec.fromJson(WIRE.replace("2026-11-29T09:30:00.123456Z", general[i])).occurredAt(), general[i]);
        }
        for (String bad : new String[] {"2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-29T25:00:00Z",
                "2026-11-29T09:30:00.1234567890Z", "2026-11-29 09:30:00Z", "yesterday"}) {
            assertReason("", WIRE.replace("2026-11-29T09:30:00.123456Z", bad));
        }
    }

    @Test
    void readsFieldsInAnyOrderAndIgnoresUnknownOnes() throws Exception {
        String reordered = "{\"extra\":{\"nested\":[1,2,{\"x\":null}]},\"finish_reason\":\"length\"," + WIRE.substring(1, WIRE.indexOf(",\"finish_reason\"")) + "}";
        assertEquals(EVENT, UsageEventCodec.fromJson(reordered));
    }

    @Test
    void refusesWhatIsNotACompleteWellFormedEventWithAReason() {
        assertReason("not JSON", "{\"schema\":");
        assertReason("not a JSON object", "[1,2]");
        assertReason("schema must be tokenmarket.usage.v1", WIRE.replace("tokenmarket.usage.v1", "other.v9"));
        assertReason("field hold_id is missing or not a string", WIRE.replace("\"hold_id\"", "\"hold\""));
        assertReason("field prompt_tokens must be a non-negative integer", WIRE.replace("\"prompt_tokens\":12", "\"prompt_tokens\":-1"));
        assertReason("field completion_tokens must be a non-negative integer", WIRE.replace("\"completion_tokens\":200", "\"completion_tokens\":2.5"));
        assertReason("cost", WIRE.replace("\"cost\":\"0.000412\"", "\"cost\":\"-1\""));
        assertReason("field pricing.prompt is missing", WIRE.replace("\"pricing\":{", "\"pricing\":[1],\"x\":{"));
        assertReason("field cost is missing", WIRE.replace("\"cost\":\"0.000412\"", "\"cost\":{\"usd\":\"0.000412\"}"));
        assertReason("Invalid UUID", WIRE.replace("\"event_id\":\"01a2a6b0-0000-7000-8000-000000000001\"", "\"event_id\":\"gen-1\""));
    }

    private static void assertReason(String expected, byte[] json) {
        UsageEventCodec.MalformedUsageEvent refused = assertThrows(UsageEventCodec.MalformedUsageEvent.class,
                () -> UsageEventCodec.fromJson(json));
        assertTrue(refused.getMessage().contains(expected), refused.getMessage());
    }

    private static void assertReason(String expected, String json) {
        UsageEventCodec.MalformedUsageEvent refused = assertThrows(UsageEventCodec.MalformedUsageEvent.class,
                () -> UsageEventCodec.fromJson(json));
        assertTrue(refused.getMessage().contains(expected), refused.getMessage());
    }
}
