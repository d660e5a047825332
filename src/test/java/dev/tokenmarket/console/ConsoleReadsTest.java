package dev.tokenmarket.console;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The by-day and over-time reads the console draws its charts from: metering's usage, the ledger's earnings, an endpoint's speed. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ConsoleReadsTest {

    private static final String PROMPT_PRICE = "1000.00";
    private static final String COMPLETION_PRICE = "2000.00";

    @Test
    void shouldAnswerSpendTokensEarningsAndSpeedByDayFromWhatWasServedAndSettled() {
        // Proves the three reads against the test's own figures for two generations and a payout.
        Org provider = Market.org("reads provider", "provider");
        Org buyer = Market.org("reads buyer", "buyer");
        String endpointId = Market.endpoint(provider, PROMPT_PRICE, COMPLETION_PRICE);
        Market.funded(buyer, "5.00");
        Response first = as(buyer.key()).body(Market.completion(endpointId, 12)).post("/v1/completions");
        Response second = as(buyer.key()).body(Market.completion(endpointId, 24)).post("/v1/completions");
        List<Market.Generation> served = List.of(Market.billed(first, PROMPT_PRICE, COMPLETION_PRICE),
                Market.billed(second, PROMPT_PRICE, COMPLETION_PRICE));
        Market.assertSettled(buyer, "5.00", provider, served);
        BigDecimal cost = served.get(0).costUsd().add(served.get(1).costUsd());
        BigDecimal earned = Market.providerShare(served.get(0).costUsd()).add(Market.providerShare(served.get(1).costUsd()));
        int promptTokens = first.<Integer>path("usage.prompt_tokens") + second.<Integer>path("usage.prompt_tokens");
        int completionTokens = first.<Integer>path("usage.completion_tokens") + second.<Integer>path("usage.completion_tokens");
        String today = LocalDate.now(ZoneOffset.UTC).toString();

        JsonPath bought = as(buyer.key()).get("/api/usage/daily").then().statusCode(200).extract().jsonPath();
        assertEquals(1, bought.getList("data").size(), bought.prettify());
        assertEquals(today, bought.getString("data[0].day"));
        assertEquals(Market.MODEL, bought.getString("data[0].model"));
        assertEquals(2, bought.getInt("data[0].requests"));
        assertEquals(promptTokens, bought.getInt("data[0].prompt_tokens"));
        assertEquals(completionTokens, bought.getInt("data[0].completion_tokens"));
        assertEquals(0, cost.compareTo(usd(bought.getString("data[0].spend"))), bought.prettify());
        assertEquals(LocalDate.now(ZoneOffset.UTC).minusDays(29).toString(), bought.getString("from"), "30 days by default");

        JsonPath servedDaily = as(provider.key()).queryParam("from", today).queryParam("to", today)
                .get("/api/usage/served/daily").then().statusCode(200).extract().jsonPath();
        assertEquals(2, servedDaily.getInt("data[0].requests"), servedDaily.prettify());
        assertEquals(completionTokens, servedDaily.getInt("data[0].completion_tokens"));
        assertEquals(0, cost.compareTo(usd(servedDaily.getString("data[0].billed"))));

        // A payout of part of what was earned shows on the same day, next to the earnings.
        BigDecimal payout = new BigDecimal("0.001");
        as(Market.ADMIN_KEY).header("Idempotency-Key", UUID.randomUUID().toString())
                .body(Map.of("org_id", provider.id(), "amount", payout.toPlainString(), "reference", "reads payout"))
                .post("/api/ledger/payouts").then().statusCode(201);
        JsonPath earnings = as(provider.key()).get("/api/ledger/earnings").then().statusCode(200).extract().jsonPath();
        assertEquals(1, earnings.getList("data").size(), earnings.prettify());
        assertEquals(today, earnings.getString("data[0].day"));
        assertEquals(0, earned.compareTo(usd(earnings.getString("data[0].earned"))), earnings.prettify());
        assertEquals(2, earnings.getInt("data[0].usage_entries"));
        assertEquals(0, payout.compareTo(usd(earnings.getString("data[0].paid_out"))));
        assertEquals(0, BigDecimal.ZERO.compareTo(usd(earnings.getString("data[0].reversed"))));
        String payable = as(provider.key()).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, earned.subtract(payout).compareTo(usd(payable)), "the payable is what was earned less the payout");

        JsonPath speed = as(provider.key()).queryParam("bucket", "minute").queryParam("from", today)
                .get("/api/endpoints/" + endpointId + "/speed").then().statusCode(200).extract().jsonPath();
        assertEquals(100, speed.getInt("declared.throughput_tps"));
        assertEquals(200, speed.getInt("declared.ttft_ms"));
        assertEquals("minute", speed.getString("bucket"));
        List<Map<String, Object>> buckets = speed.getList("data");
        assertEquals(2, buckets.stream().mapToInt(b -> ((Number) b.get("requests")).intValue()).sum(), speed.prettify());
        assertTrue(buckets.stream().allMatch(b -> ((Map<?, ?>) b.get("throughput_tps")).get("p50") instanceof Number
                && ((Number) ((Map<?, ?>) b.get("ttft_ms")).get("p90")).doubleValue() >= 0), speed.prettify());
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldShowEachOrganizationOnlyItsOwnFiguresAndRefuseTheWrongRole() {
        // Proves the reads never show what the key may not see.
        Org provider = Market.org("reads owner", "provider");
        Org other = Market.org("reads other provider", "provider");
        Org buyer = Market.org("reads idle buyer", "buyer");
        String endpointId = Market.endpoint(provider, PROMPT_PRICE, COMPLETION_PRICE);

        as(other.key()).get("/api/endpoints/" + endpointId + "/speed").then().statusCode(403).body("code", equalTo("forbidden"));
        as(buyer.key()).get("/api/endpoints/" + endpointId + "/speed").then().statusCode(403).body("code", equalTo("forbidden"));
        as(buyer.key()).get("/api/ledger/earnings").then().statusCode(403).body("code", equalTo("forbidden"));
        as(buyer.key()).get("/api/usage/served/daily").then().statusCode(403).body("code", equalTo("forbidden"));
        as(provider.key()).get("/api/usage/daily").then().statusCode(403).body("code", equalTo("forbidden"));
        as(buyer.key()).get("/api/usage/daily").then().statusCode(200).body("data.size()", equalTo(0));
        as(other.key()).get("/api/ledger/earnings").then().statusCode(200).body("data.size()", equalTo(0));
        as(provider.key()).get("/api/endpoints/" + UUID.randomUUID() + "/speed").then().statusCode(404).body("code", equalTo("not_found"));
    }

    @Test
    void shouldRejectBadRangesAndBucketsNamingTheField() {
        // Proves bad input is refused at once with the field to correct.
        Org provider = Market.org("reads bad input", "provider", "buyer");
        String endpointId = Market.endpoint(provider, PROMPT_PRICE, COMPLETION_PRICE);

        as(provider.key()).queryParam("from", "yesterday").get("/api/usage/daily").then().statusCode(400)
                .body("code", equalTo("invalid_request")).body("field", equalTo("from"));
        as(provider.key()).queryParam("from", "2026-03-02").queryParam("to", "2026-03-01").get("/api/usage/daily")
                .then().statusCode(400).body("field", equalTo("from"));
        as(provider.key()).queryParam("from", "2024-01-01").queryParam("to", "2026-01-01").get("/api/ledger/earnings")
                .then().statusCode(400).body("field", equalTo("from"));
        as(provider.key()).queryParam("bucket", "week").get("/api/endpoints/" + endpointId + "/speed").then().statusCode(400)
                .body("field", equalTo("bucket"));
        as(provider.key()).queryParam("bucket", "minute").queryParam("from", "2026-01-01T00:00:00Z").queryParam("to", "2026-01-03T00:00:00Z")
                .get("/api/endpoints/" + endpointId + "/speed").then().statusCode(400).body("field", equalTo("from"));
        as(provider.key()).queryParam("bucket", "hour").get("/api/endpoints/" + endpointId + "/speed").then().statusCode(200)
                .body("data.size()", equalTo(0)).body("declared.ttft_ms", equalTo(200)).body("data[0]", nullValue());
    }
}
