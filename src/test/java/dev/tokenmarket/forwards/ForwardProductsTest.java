package dev.tokenmarket.forwards;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An admin lists forward products; instruments are listed ahead with stable symbols and move through their states. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ForwardProductsTest {

    @Inject
    Instruments instruments;

    @Inject
    Products products;

    static String uniqueModel() {
        return "fwd" + UUID.randomUUID().toString().substring(0, 8);
    }

    static void openAiEndpoint(Org provider, String model, String prompt, String completion) {
        as(provider.key()).body(Map.of("model", model, "hardware", "h100", "region", "eu",
                        "pricing", Map.of("prompt", prompt, "completion", completion),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 100_000, "max_concurrency", 4),
                        "backend", Map.of("type", "openai", "url", "http://127.0.0.1:9/v1")))
                .post("/api/endpoints").then().statusCode(201);
    }

    static Map<String, Object> productBody(String model) {
        return Map.of("model", model, "tick", "0.01", "lot", 1, "price_band", Map.of("min", "0.01", "max", "1000.00"));
    }

    @Test
    void shouldDefaultTheCompletionWeightToTheMedianPriceRatioOfTheModelsActiveEndpoints() {
        // Proves the default w_o is the median completion/prompt price ratio and w_c is 0.2, fixed at listing.
        String model = uniqueModel();
        Org provider = Market.org("fwd provider", "provider");
        openAiEndpoint(provider, model, "1.00", "2.00");
        openAiEndpoint(provider, model, "0.50", "2.105");
        openAiEndpoint(provider, model, "2.00", "10.00");
        JsonPath product = as(ADMIN_KEY).body(productBody(model)).post("/api/forwards/products")
                .then().statusCode(201).extract().jsonPath();
        assertEquals("4.21", product.getString("weights.completion"), product.prettify());
        assertEquals("0.2", product.getString("weights.cached"));
        assertEquals("1", product.getString("weights.prompt"));
        assertEquals(model, product.getString("code"));
        assertEquals("0.01", product.getString("tick"));
        assertEquals(2000, product.getInt("bond_rate_bps"));
        assertEquals(1_000_000, product.getLong("standard_tokens_per_contract"));
        openAiEndpoint(provider, model, "1.00", "100.00");
        JsonPath listed = as(ADMIN_KEY).get("/api/forwards/products").then().statusCode(200).extract().jsonPath();
        assertEquals("4.21", listed.getString("data.find { it.code == '" + model + "' }.weights.completion"),
                "the weights stay as they were at listing");
    }

    @Test
    void shouldRefuseABadProductWithItsFieldAndOnlyLetAdminsListProducts() {
        // Proves bad product input is a 400 naming the field, a second listing of a code a 409, a trader a 403.
        String model = uniqueModel();
        as(ADMIN_KEY).body(Map.of("model", model, "tick", "0.03", "price_band", Map.of("min", "0.01", "max", "1.00"),
                        "weights", Map.of("completion", "3")))
                .post("/api/forwards/products").then().statusCode(400).body("field", equalTo("price_band"));
        as(ADMIN_KEY).body(productBody(model)).post("/api/forwards/products")
                .then().statusCode(400).body("field", equalTo("weights.completion"));
        Map<String, Object> good = Map.of("model", model, "tick", "0.01", "price_band", Map.of("min", "0.01", "max", "1.00"),
                "weights", Map.of("completion", "3", "cached", "0.1"));
        Org trader = Market.org("fwd trader", "trader");
        as(trader.key()).body(good).post("/api/forwards/products").then().statusCode(403).body("code", equalTo("forbidden"));
        as(ADMIN_KEY).body(good).post("/api/forwards/products").then().statusCode(201).body("weights.cached", equalTo("0.1"));
        as(ADMIN_KEY).body(good).post("/api/forwards/products").then().statusCode(409).body("code", equalTo("product_exists"));
        as(trader.key()).get("/api/forwards/products").then().statusCode(200);
    }

    @Test
    void shouldListHourlyAndDailyInstrumentsAheadWithStableSymbolsAndStopTradingBeforeDelivery() {
        // Proves 48 hourly and 30 daily windows are listed, idempotently, and trading stops 15 minutes before delivery.
        String model = uniqueModel();
        as(ADMIN_KEY).body(Map.of("model", model, "tick", "0.01", "price_band", Map.of("min", "0.01", "max", "1.00"),
                "weights", Map.of("completion", "3"))).post("/api/forwards/products").then().statusCode(201);
        Product product = products.all().stream().filter(p -> p.code().equals(model)).findFirst().orElseThrow();
        Instant now = Instant.parse("2027-03-04T12:20:00Z");
        instruments.schedule(now, product);
        instruments.schedule(now, product);
        List<Map<String, Object>> listed = as(ADMIN_KEY).queryParam("product", model).get("/api/forwards/instruments")
                .then().statusCode(200).extract().jsonPath().getList("data");
        List<Map<String, Object>> hourly = listed.stream().filter(i -> "hour".equals(i.get("window"))
                && ((String) i.get("delivery_start")).compareTo("2027-03") > 0).toList();
        List<Map<String, Object>> daily = listed.stream().filter(i -> "day".equals(i.get("window"))
                && ((String) i.get("delivery_start")).compareTo("2027-03") > 0).toList();
        assertEquals(48, hourly.size(), "hours 13:00 on the 4th to 12:00 on the 6th");
        assertEquals(30, daily.size(), "days from the 5th to the 3rd of April");
        assertEquals("FWD-" + model + "-2027-03-04T13", hourly.getFirst().get("symbol"));
        assertEquals("FWD-" + model + "-2027-03-06T12", hourly.getLast().get("symbol"));
        assertEquals("FWD-" + model + "-2027-03-05", daily.getFirst().get("symbol"));
        assertEquals("FWD-" + model + "-2027-04-03", daily.getLast().get("symbol"));
        JsonPath first = as(ADMIN_KEY).get("/api/forwards/instruments/FWD-" + model + "-2027-03-04T13")
                .then().statusCode(200).extract().jsonPath();
        assertEquals("trading", first.getString("state"));
        assertEquals("2027-03-04T12:45:00Z", first.getString("trading_stops_at"));
        assertEquals("physical", first.getString("settlement_type"));

        instruments.schedule(Instant.parse("2027-03-04T12:45:00Z"), product);
        as(ADMIN_KEY).get("/api/forwards/instruments/FWD-" + model + "-2027-03-04T13").then().statusCode(200)
                .body("state", equalTo("delivering"));
        as(ADMIN_KEY).get("/api/forwards/instruments/FWD-" + model + "-2027-03-04T14").then().statusCode(200)
                .body("state", equalTo("trading"));
        as(ADMIN_KEY).post("/api/forwards/instruments/FWD-" + model + "-2027-03-04T14/halt").then().statusCode(200)
                .body("state", equalTo("halted"));
        as(ADMIN_KEY).post("/api/forwards/instruments/FWD-" + model + "-2027-03-04T13/resume").then().statusCode(409)
                .body("code", equalTo("instrument_not_trading"));
        as(ADMIN_KEY).post("/api/forwards/instruments/FWD-" + model + "-2027-03-04T14/resume").then().statusCode(200)
                .body("state", equalTo("trading"));
        as(ADMIN_KEY).get("/api/forwards/instruments/FWD-nope-2027-03-04T14").then().statusCode(404).body("code", equalTo("not_found"));
        assertTrue(listed.stream().allMatch(i -> "0.01".equals(i.get("tick"))));
    }
}
