package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class KeyLimitsTest {

    /** Sends {@code count} requests at once and returns their responses. */
    private static List<Response> concurrently(int count, Callable<Response> request) throws Exception {
        // Own threads, not the common pool: RestAssured's Groovy needs that one.
        ExecutorService pool = Executors.newFixedThreadPool(count);
        try {
            List<Future<Response>> futures = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                futures.add(pool.submit(request));
            }
            List<Response> responses = new ArrayList<>();
            for (Future<Response> f : futures) {
                responses.add(f.get());
            }
            return responses;
        } finally {
            pool.shutdown();
        }
    }

    private static List<Integer> statuses(List<Response> responses) {
        return responses.stream().map(Response::statusCode).toList();
    }

    /**
     * The generations the 200 responses report, each checked against the cost the test computes from its
     * tokens at the endpoint's prices (USD per million tokens).
     */
    private static List<Generation> served(List<Response> responses, String promptPrice, String completionPrice) {
        List<Generation> served = new ArrayList<>();
        for (Response r : responses.stream().filter(r -> r.statusCode() == 200).toList()) {
            assertEquals(0, Market.expectedCost(r, promptPrice, completionPrice).compareTo(usd(r.path("usage.cost"))),
                    "cost of its tokens: " + r.asString());
            served.add(Market.served(r));
        }
        return served;
    }

    private static BigDecimal total(List<Generation> served) {
        return served.stream().map(Generation::costUsd).reduce(BigDecimal.ZERO, BigDecimal::add);
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

        List<Response> responses = concurrently(12, () -> as(buyer.key()).body(completion(endpointId, 4))
                .post("/v1/completions"));
        List<Integer> statuses = statuses(responses);
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
        List<Generation> generations = new ArrayList<>(served(responses, "0.10", "0.20"));
        if (refused.statusCode() == 200) {
            generations.add(Market.served(refused));
        }
        Market.assertSettled(buyer, "5.00", provider, generations);
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

        List<Response> responses = concurrently(10, () -> as(buyer.key()).body(completion(endpointId, 20))
                .post("/v1/completions"));
        List<Integer> statuses = statuses(responses);
        assertTrue(statuses.contains(402), statuses.toString());
        assertEquals(10, statuses.stream().filter(s -> s == 200 || s == 402).count(), statuses.toString());
        for (Response r : responses.stream().filter(r -> r.statusCode() == 402).toList()) {
            assertEquals("spend_limit_reached", r.path("error.code"), "the key's limit refused it, not the balance");
        }
        List<Generation> served = served(responses, "1000.00", "1000.00");
        assertTrue(total(served).compareTo(usd("0.10")) <= 0, "what was served costs at most the limit: " + served);
        Market.awaitSettled(buyer);
        Response refused = as(buyer.key()).body(completion(endpointId, 20)).post("/v1/completions");
        Map<String, Object> limits = as(buyer.key()).get("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(200).extract().jsonPath().getMap("current");
        BigDecimal spent = usd((String) limits.get("spend"));
        assertEquals(0, total(served).compareTo(spent), "the key's spend is the served generations' costs");
        assertEquals(402, refused.statusCode(), "no room for another request's hold under the limit");
        assertEquals("spend_limit_reached", refused.path("error.code"));
        Market.assertSettled(buyer, "10.00", provider, served);

        // The usage view shows the same spend by day and model.
        List<Map<String, Object>> usage = as(buyer.key()).get("/api/keys/" + buyer.keyId() + "/usage")
                .then().statusCode(200).extract().jsonPath().getList("data");
        assertEquals(1, usage.size());
        assertEquals(Market.MODEL, usage.getFirst().get("model"));
        assertEquals(0, total(served).compareTo(usd((String) usage.getFirst().get("spend"))));
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
        // Proves the overspend race: of many concurrent requests against a small balance, those served cost at
        // most the balance, the buyer pays exactly their costs and the provider earns exactly its share of them;
        // the others get 402, no usage event is dead-lettered (the ledger refusing an overdraft) and nothing
        // stays held.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "1000.00", 100, 200, 64);
        // 0.001 USD a token: each request may cost up to about 0.033 USD (3 prompt + 30 completion tokens), so
        // the balance pays for three of them at most.
        Market.funded(buyer, "0.10");
        List<Response> responses = concurrently(24, () -> as(buyer.key()).body(completion(endpointId, 30))
                .post("/v1/completions"));
        List<Integer> statuses = statuses(responses);
        assertEquals(24, statuses.stream().filter(s -> s == 200 || s == 402).count(), statuses.toString());
        for (Response r : responses.stream().filter(r -> r.statusCode() == 402).toList()) {
            assertEquals("insufficient_balance", r.path("error.code"));
        }
        List<Generation> served = served(responses, "1000.00", "1000.00");
        assertFalse(served.isEmpty(), statuses.toString());
        assertTrue(total(served).compareTo(usd("0.10")) <= 0, "served at most what the balance pays for: " + served);
        Market.assertSettled(buyer, "0.10", provider, served);
        Market.assertLedgerBalanced();
    }
}
