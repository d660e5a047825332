package dev.tokenmarket.metering;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Random;
import java.util.UUID;
import java.util.stream.LongStream;

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

    @Test
    void readsAtOnceExactlyTheBytesTheEncoderWritesAndNothingElse() throws Exception {
        // The ledger keeps the digest of the bytes the canonical reader accepts as they came, as the digest of
        // the event's encoding: so whatever it accepts must encode back to those very bytes, and it must
        // accept what gateways send (plain model names, timings not negative), or the ledger loses the gain.
        // An alteration can keep the form (another hex digit in a uuid): then it must still encode back.
        Random random = new Random(20261129);
        int plain = 0;
        int alteredAccepted = 0;
        for (int n = 0; n < 20_000; n++) {
            UsageEvent event = randomEvent(random);
            byte[] wire = UsageEventCodec.toJson(event).getBytes(StandardCharsets.UTF_8);
            UsageEvent read = UsageEventCodec.fromCanonicalJson(wire);
            if (isPlain(event)) {
                plain++;
                assertEquals(event, read, new String(wire, StandardCharsets.UTF_8));
            } else if (read != null) {
                assertEquals(event, read, new String(wire, StandardCharsets.UTF_8));
            }
            byte[] altered = alter(wire, random);
            UsageEvent accepted = UsageEventCodec.fromCanonicalJson(altered);
            if (accepted != null) {
                alteredAccepted++;
                String text = new String(altered, StandardCharsets.UTF_8);
                assertEquals(text, UsageEventCodec.toJson(accepted), "accepted bytes the encoder does not write");
                assertEquals(UsageEventCodec.fromJson(altered), accepted, text);
            }
        }
        assertTrue(plain > 1_000 && alteredAccepted > 100, "plain events " + plain + ", alterations still in the form " + alteredAccepted);
        assertEquals(null, UsageEventCodec.fromCanonicalJson(WIRE.getBytes(StandardCharsets.UTF_8)),
                "a model name with escaped quotes goes to the general parser");
        String plainWire = WIRE.replace("stories \\\"260k\\\"", "stories260k");
        for (String[] respelled : new String[][] {{"01a2a6b0", "01A2A6B0"}, {"\"ttft_ms\":7", "\"ttft_ms\":7.0"}, {"stories260k", "stories\\u0032\\u0036\\u0030k"},
                {"\"1.00\"", "\"1.0\""}, {"\"1.00\"", "\"1.000\""}, {"\"0.000412\"", "\"0.0004120\""},
                {"09:30:00.123456Z", "09:30:00.123456000Z"}, {"09:30:00.123456Z", "09:30:00.1234560Z"},
                {"\"ttft_ms\":7", "\"ttft_ms\": 7"}, {"\"length\"}", "\"length\"} "}}) {
            String json = plainWire.replace(respelled[0], respelled[1]);
            assertEquals(null, UsageEventCodec.fromCanonicalJson(json.getBytes(StandardCharsets.UTF_8)), json);
            assertEquals(UsageEventCodec.fromJson(plainWire), UsageEventCodec.fromJson(json), "the general parser reads it: " + json);
        }
    }

    /** What a gateway sends: printable ASCII names, timings of 0 to 18 digits, years of four digits. */
    private static boolean isPlain(UsageEvent e) {
        return e.model().chars().allMatch(c -> c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                && e.finishReason().chars().allMatch(c -> c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                && LongStream.of(e.ttftMs(), e.generationMs(), e.latencyMs()).allMatch(t -> t >= 0 && t < 1_000_000_000_000_000_000L)
                && e.occurredAt().isBefore(Instant.parse("9999-12-31T23:59:59.999999999Z"));
    }

    private static UsageEvent randomEvent(Random r) {
        String[] models = {"stories260k", "llama-3.1-70b-instruct", "org/model:v2 (beta)", "mod\u00e8le", "tab\there",
                "quote\"d", "back\\slash", "", "x".repeat(300), "del\u007f"};
        String[] reasons = {"stop", "length", "cancelled", "error", "", "ünï"};
        long[] amounts = {0, 1, 10, 999_999_999L, 1_000_000_000L, 1_500_000_000L, 20_600L, 412_000L, 123_456_789_012L,
                1_000_000_000L * 1_000_000_000L};
        Instant occurred = switch (r.nextInt(4)) {
            case 0 -> Instant.ofEpochSecond(1_700_000_000L + r.nextInt(100_000_000));
            case 1 -> Instant.ofEpochSecond(1_700_000_000L + r.nextInt(100_000_000), r.nextInt(1000) * 1_000_000L);
            case 2 -> Instant.ofEpochSecond(r.nextLong(-62_000_000_000L, 300_000_000_000L), r.nextInt(1_000_000) * 1000L);
            default -> Instant.ofEpochSecond(1_700_000_000L + r.nextInt(100_000_000), r.nextInt(1_000_000_000));
        };
        long[] timings = new long[3];
        for (int i = 0; i < 3; i++) {
            timings[i] = switch (r.nextInt(5)) {
                case 0 -> 0;
                case 1 -> -r.nextInt(100);
                case 2 -> r.nextLong(0, Long.MAX_VALUE);
                default -> r.nextInt(100_000);
            };
        }
        return new UsageEvent(randomUuid(r), occurred, randomUuid(r), randomUuid(r), randomUuid(r), randomUuid(r),
                models[r.nextInt(models.length)], r.nextInt(4) == 0 ? Integer.MAX_VALUE : r.nextInt(10_000),
                r.nextInt(100_000), amounts[r.nextInt(amounts.length)], amounts[r.nextInt(amounts.length)],
                amounts[r.nextInt(amounts.length)], amounts[r.nextInt(amounts.length)], randomUuid(r),
                timings[0], timings[1], timings[2], reasons[r.nextInt(reasons.length)]);
    }

    private static UUID randomUuid(Random r) {
        return r.nextBoolean() ? new UUID(r.nextLong(), r.nextLong()) : new UUID(r.nextInt(16), r.nextInt(3));
    }

    /** The bytes with one byte replaced, removed or added somewhere, by a byte that often means something in the form. */
    private static byte[] alter(byte[] wire, Random r) {
        byte[] choices = "0123456789abcdefABCDEF.-:TZ\" \\{}[],nul\t\u00ff".getBytes(StandardCharsets.ISO_8859_1);
        byte b = choices[r.nextInt(choices.length)];
        int at = r.nextInt(wire.length);
        return switch (r.nextInt(3)) {
            case 0 -> {
                byte[] out = wire.clone();
                out[at] = b;
                yield out;
            }
            case 1 -> {
                byte[] out = new byte[wire.length - 1];
                System.arraycopy(wire, 0, out, 0, at);
                System.arraycopy(wire, at + 1, out, at, wire.length - at - 1);
                yield out;
            }
            default -> {
                byte[] out = new byte[wire.length + 1];
                System.arraycopy(wire, 0, out, 0, at);
                out[at] = b;
                System.arraycopy(wire, at, out, at + 1, wire.length - at);
                yield out;
            }
        };
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
