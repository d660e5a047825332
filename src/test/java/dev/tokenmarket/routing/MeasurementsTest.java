package dev.tokenmarket.routing;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class MeasurementsTest {

    private static Map<String, Object> request(List<String> only, String sort) {
        return Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 5, "provider", Map.of("only", only, "sort", sort));
    }

    @Test
    @SuppressWarnings("unchecked")
    void shouldPublishLiveMeasurementsAndRouteByMeasuredThroughputOnceSampled() {
        // Proves measured speed is published next to the declared one and overrides a declared figure that lies.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        // Declares 1000 tokens/s but is paced to 20; the honest one declares 100 (and runs faster, unpaced).
        String boastful = Market.endpoint(provider, "1.00", "1.00", 8, Map.of("type", "reference", "max_tokens_per_second", 20));
        as(provider.key()).body(Map.of("declared", Map.of("throughput_tps", 1000, "ttft_ms", 100)))
                .patch("/api/endpoints/" + boastful).then().statusCode(200);
        String honest = Market.endpoint(provider, "1.00", "1.00", 100, 100, 8);
        List<String> both = List.of(boastful, honest);
        List<Generation> served = new ArrayList<>();

        for (int i = 0; i < 5; i++) {
            Response response = as(buyer.key()).body(request(both, "throughput")).post("/v1/completions");
            served.add(Market.billed(response, "1.00", "1.00"));
            assertEquals(boastful, response.path("endpoint_id"), "declared figures rule until there are enough samples");
        }
        Map<String, Object> entry = endpointEntry(boastful);
        Map<String, Object> live = (Map<String, Object>) entry.get("live");
        assertEquals(5, live.get("requests"));
        assertEquals(1.0f, ((Number) live.get("success_rate")).floatValue());
        Map<String, Object> throughput = (Map<String, Object>) live.get("throughput_tps");
        assertNotNull(throughput, entry.toString());
        double p50 = ((Number) throughput.get("p50")).doubleValue();
        assertTrue(p50 > 10 && p50 < 40, "paced near 20 tokens/s: " + p50);
        assertEquals(1000, ((Map<String, Object>) entry.get("declared")).get("throughput_tps"));
        assertNotNull(((Map<String, Object>) entry.get("measured")).get("ttft_ms"), "the database-wide window too");

        Response response = as(buyer.key()).body(request(both, "throughput")).post("/v1/completions");
        served.add(Market.billed(response, "1.00", "1.00"));
        assertEquals(honest, response.path("endpoint_id"), "once measured at ~20 tokens/s, the boastful endpoint loses to a declared 100");
        Market.assertSettled(buyer, "1.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> endpointEntry(String endpointId) {
        List<Map<String, Object>> endpoints = as(Market.ADMIN_KEY).get("/v1/models/" + Market.MODEL + "/endpoints")
                .then().statusCode(200).extract().jsonPath().getList("data.endpoints");
        return endpoints.stream().filter(e -> endpointId.equals(e.get("id"))).findFirst().orElseThrow();
    }
}
