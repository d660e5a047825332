package dev.tokenmarket.platform;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.RecentSpans;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static dev.tokenmarket.testing.Market.as;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One request's trace as an operator follows it: the gateway's spans carry the generation id, and the
 * spans that relay its usage event to Kafka and settle it into the ledger (in batches, on other threads
 * and, in production, other processes) link back to it through the outbox and the Kafka record's header.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class TracingTest {

    private static final AttributeKey<String> GENERATION_ID = AttributeKey.stringKey("tokenmarket.generation_id");

    @Inject
    RecentSpans spans;

    @Test
    void aRequestsTraceReachesTheRelayAndTheSettlementOfItsUsage() {
        Org buyer = Market.org("traced buyer", "buyer");
        Org provider = Market.org("traced provider", "provider");
        String endpoint = Market.endpoint(provider, "100.00", "200.00");
        Market.funded(buyer, "1.00");
        Response served = as(buyer.key()).body(Market.completion(endpoint, 8)).post("/v1/completions");
        assertEquals(200, served.statusCode(), served.asString());
        String generationId = served.path("id");
        Market.awaitSettled(buyer);

        SpanData request = await().atMost(Duration.ofSeconds(10)).until(() -> spans.all().stream()
                .filter(s -> generationId.equals(s.getAttributes().get(GENERATION_ID))).findFirst().orElse(null), s -> s != null);
        String traceId = request.getTraceId();
        Set<String> inTrace = spans.all().stream().filter(s -> s.getTraceId().equals(traceId)).map(SpanData::getName)
                .collect(Collectors.toSet());
        assertTrue(inTrace.containsAll(List.of("route", "match and hold", "serve and meter", "reference engine")),
                "the gateway's stages in the request's trace: " + inTrace);

        SpanData relay = linkingTo("relay usage events", traceId);
        SpanData settlement = linkingTo("settle usage batch", traceId);
        assertTrue(relay.getAttributes().get(AttributeKey.longKey("tokenmarket.events")) >= 1);
        assertTrue(settlement.getAttributes().get(AttributeKey.longKey("tokenmarket.events")) >= 1);
        assertTrue(settlement.getStartEpochNanos() >= relay.getStartEpochNanos(),
                "settled after it was relayed");
    }

    @Test
    void aTraceParentIsReadBackAndAnythingElseIsLeftOut() {
        String written = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assertEquals("4bf92f3577b34da6a3ce929d0e0e4736", TraceParents.parse(written).getTraceId());
        assertEquals("00f067aa0ba902b7", TraceParents.parse(written).getSpanId());
        for (String malformed : new String[] {null, "", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"}) {
            assertEquals(null, TraceParents.parse(malformed), String.valueOf(malformed));
        }
    }

    /** The span of that name with a link into the trace, waited for (the relay and the ledger run on their own). */
    private SpanData linkingTo(String name, String traceId) {
        SpanData span = await().atMost(Duration.ofSeconds(10)).until(() -> spans.all().stream()
                .filter(s -> s.getName().equals(name))
                .filter(s -> s.getLinks().stream().anyMatch(l -> l.getSpanContext().getTraceId().equals(traceId)))
                .findFirst().orElse(null), s -> s != null);
        assertNotNull(span);
        return span;
    }
}
