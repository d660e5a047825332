package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.completion;
import static dev.tokenmarket.testing.Market.usd;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class KeyLimitsTest {

    /** Sends {@code count} requests at once and returns their status codes. */
    private static List<Integer> concurrently(int count, Callable<Integer> request) throws Exception {
        // Own threads, not the common pool: RestAssured's Groovy needs that one.
        ExecutorService pool = Executors.newFixedThreadPool(count);
        try {
            List<Future<Integer>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                futures.add(pool.submit(request));
            }
            List<Integer> statuses = new ArrayList<>();
            for (Future<Integer> f : futures) {
                statuses.add(f.get());
            }
            return statuses;
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void shouldAdmitExactlyTheRequestsPerMinuteUnderConcurrencyAndAnswer429WithRetryAfter() throws Exception {
        // Proves the requests-per-minute limit lets through exactly its number of concurrent requests, no more.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.10", "0.20", 100, 200, 32);
        Market.funded(buyer, "5.00");
        as(buyer.key()).body(Map.of("requests_per_minute", 5)).put("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(200).body("requests_per_minute", equalTo(5));

        List<Integer> statuses = concurrently(12, () -> as(buyer.key()).body(completion(endpointId, 4))
                .post("/v1/completions").statusCode());
        // A minute boundary can fall inside the burst and open a fresh window; both windows stay within 5.
        long served = statuses.stream().filter(s -> s == 200).count();
        assertTrue(served == 5 || served == 10, "exactly one or two windows' worth: " + statuses);
        assertEquals(12 - served, statuses.stream().filter(s -> s == 429).count(), statuses.toString());

        Response refused = as(buyer.key()).body(completion(endpointId, 4)).post("/v1/completions");
        if (refused.statusCode() == 429) {
            int retryAfter = Integer.parseInt(refused.header("Retry-After"));
            assertTrue(retryAfter >= 1 && retryAfter <= 60, "Retry-After points at the next minute: " + retryAfter);
            assertEquals("rate_limited", refused.path("error.code"));
        }
        Market.awaitSettled(buyer);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldRefuseWith402SpendLimitReachedOnceTheKeysSpendLimitIsUsedAndNeverExceedIt() throws Exception {
        // Proves the spend limit holds exactly under concurrency: total spend stays within it, then 402.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "1000.00", 100, 200, 32);
        Market.funded(buyer, "10.00");
        // Each request holds (prompt <= 3 + 20 completion) x 0.001 USD = at most 0.023 USD; the limit fits 4 such holds.
        as(buyer.key()).body(Map.of("spend_limit", "0.10", "spend_limit_reset", "daily"))
                .put("/api/keys/" + buyer.keyId() + "/limits").then().statusCode(200)
                .body("spend_limit", equalTo("0.10")).body("spend_limit_reset", equalTo("daily"));

        List<Integer> statuses = concurrently(10, () -> as(buyer.key()).body(completion(endpointId, 20))
                .post("/v1/completions").statusCode());
        assertTrue(statuses.contains(402), statuses.toString());
        Market.awaitSettled(buyer);
        Response refused = as(buyer.key()).body(completion(endpointId, 20)).post("/v1/completions");
        Map<String, Object> limits = as(buyer.key()).get("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(200).extract().jsonPath().getMap("current");
        BigDecimal spent = usd((String) limits.get("spend"));
        assertTrue(spent.compareTo(usd("0.10")) <= 0, "spend within the limit: " + spent);
        BigDecimal charged = Market.paidSince(buyer, "10.00");
        assertEquals(0, spent.compareTo(charged), "the key's spend is what the wallet paid");
        assertEquals(402, refused.statusCode(), "no room for another request's hold under the limit");
        assertEquals("spend_limit_reached", refused.path("error.code"));

        // The usage view shows the same spend by day and model.
        List<Map<String, Object>> usage = as(buyer.key()).get("/api/keys/" + buyer.keyId() + "/usage")
                .then().statusCode(200).extract().jsonPath().getList("data");
        assertEquals(1, usage.size());
        assertEquals(Market.MODEL, usage.getFirst().get("model"));
        assertEquals(0, charged.compareTo(usd((String) usage.getFirst().get("spend"))));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldRejectInvalidLimitsAndAnotherOrganizationsKey() {
        // Proves bad limit input is a 400 naming the field and another tenant's key is a 403, changing nothing.
        Org buyer = Market.org("buyer", "buyer");
        Org other = Market.org("other", "buyer");
        as(buyer.key()).body(Map.of("spend_limit_reset", "hourly")).put("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(400).body("field", equalTo("spend_limit_reset"));
        as(buyer.key()).body(Map.of("requests_per_minute", 0)).put("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(400).body("field", equalTo("requests_per_minute"));
        as(other.key()).body(Map.of("requests_per_minute", 1)).put("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(403);
        as(buyer.key()).get("/api/keys/" + buyer.keyId() + "/limits").then().statusCode(200)
                .body("requests_per_minute", equalTo(null));
    }

    @Test
    void shouldNeverSpendMoreThanTheBalanceWhenManyRequestsRaceForIt() throws Exception {
        // Proves the overspend race: many concurrent requests against a small balance never spend more than it.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "1000.00", 100, 200, 64);
        // Each request may cost up to about 0.033 USD (3 prompt + 30 completion tokens at 0.001 USD each).
        Market.funded(buyer, "0.10");
        List<Integer> statuses = concurrently(24, () -> as(buyer.key()).body(completion(endpointId, 30))
                .post("/v1/completions").statusCode());
        assertTrue(statuses.contains(200), statuses.toString());
        assertTrue(statuses.contains(402), "the balance runs out: " + statuses);
        assertEquals(24, statuses.stream().filter(s -> s == 200 || s == 402).count(), statuses.toString());
        Market.awaitSettled(buyer);
        Map<String, String> balance = Market.balance(buyer);
        assertTrue(usd(balance.get("posted")).signum() >= 0, "never below zero: " + balance);
        assertTrue(usd(balance.get("available")).signum() >= 0, "never below zero: " + balance);
        Market.assertLedgerBalanced();
    }
}
