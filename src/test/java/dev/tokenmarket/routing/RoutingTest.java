package dev.tokenmarket.routing;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.ServerSentEvents;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Matching a request to endpoints: each sort, each filter, capacity, and what a buyer sees when nothing fits. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class RoutingTest {

    @TestHTTPResource("/v1/completions")
    URI completionsUrl;

    /**
     * The endpoint that served a one-token completion; its generation joins {@code served}, its cost checked at
     * the endpoint's price from {@code prices} (endpoint id to USD per million tokens, prompt and completion alike).
     */
    private static String servedBy(Org buyer, Map<String, Object> routing, Map<String, String> prices,
                                   List<Generation> served) {
        Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 1, "provider", routing))
                .post("/v1/completions");
        String endpointId = response.then().statusCode(200).extract().path("endpoint_id");
        String price = prices.get(endpointId);
        served.add(Market.billed(response, price, price));
        return endpointId;
    }

    private static Map<String, Object> routing(List<String> only, Object... more) {
        Map<String, Object> routing = new HashMap<>();
        routing.put("only", only);
        for (int i = 0; i < more.length; i += 2) {
            routing.put((String) more[i], more[i + 1]);
        }
        return routing;
    }

    @Test
    void shouldPickTheEndpointEachSortAsksFor() {
        // Proves price (default), throughput, latency and an explicit order each choose the endpoint they promise.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        String cheapSlow = Market.endpoint(provider, "1.00", "1.00", 50, 900, 8);
        String fast = Market.endpoint(provider, "2.00", "2.00", 300, 100, 8);
        String quick = Market.endpoint(provider, "3.00", "3.00", 150, 40, 8);
        List<String> all = List.of(cheapSlow, fast, quick);
        Map<String, String> prices = Map.of(cheapSlow, "1.00", fast, "2.00", quick, "3.00");
        List<Generation> served = new ArrayList<>();

        assertEquals(cheapSlow, servedBy(buyer, routing(all), prices, served));
        assertEquals(cheapSlow, servedBy(buyer, routing(all, "sort", "price"), prices, served));
        assertEquals(fast, servedBy(buyer, routing(all, "sort", "throughput"), prices, served));
        assertEquals(quick, servedBy(buyer, routing(all, "sort", "latency"), prices, served));
        assertEquals(quick, servedBy(buyer, routing(all, "order", List.of(quick, cheapSlow)), prices, served));
        Market.assertSettled(buyer, "1.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldPreferTheCheapestEndpointMeetingTheSpeedWishesAndFallBackToOthers() {
        // Proves preferred_min_throughput / preferred_max_latency: cheapest among those meeting them, else the cheapest.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        String cheapSlow = Market.endpoint(provider, "1.00", "1.00", 50, 900, 8);
        String fast = Market.endpoint(provider, "2.00", "2.00", 300, 100, 8);
        String fastest = Market.endpoint(provider, "3.00", "3.00", 500, 40, 8);
        List<String> all = List.of(cheapSlow, fast, fastest);
        Map<String, String> prices = Map.of(cheapSlow, "1.00", fast, "2.00", fastest, "3.00");
        List<Generation> served = new ArrayList<>();

        assertEquals(fast, servedBy(buyer, routing(all, "preferred_min_throughput", 200), prices, served));
        assertEquals(fastest, servedBy(buyer, routing(all, "preferred_max_latency", 50), prices, served));
        assertEquals(cheapSlow, servedBy(buyer, routing(all, "preferred_min_throughput", 10_000), prices, served),
                "nobody meets the wish: the cheapest still serves");
        Market.assertSettled(buyer, "1.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldFilterByIgnoreAndMaxPriceAndExplainA503WhenNothingIsLeft() {
        // Proves provider.ignore and max_price filters, and a 503 naming what excluded each endpoint.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        String cheap = Market.endpoint(provider, "1.00", "1.00", 100, 200, 8);
        String dear = Market.endpoint(provider, "5.00", "5.00", 100, 200, 8);
        List<String> both = List.of(cheap, dear);
        Map<String, String> prices = Map.of(cheap, "1.00", dear, "5.00");
        List<Generation> served = new ArrayList<>();

        assertEquals(dear, servedBy(buyer, routing(both, "ignore", List.of(cheap)), prices, served));
        assertEquals(cheap, servedBy(buyer, routing(both, "max_price", Map.of("prompt", "2.00", "completion", "2.00")),
                prices, served));
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 1,
                        "provider", routing(both, "ignore", List.of(cheap), "max_price", Map.of("completion", "4.00"))))
                .post("/v1/completions").then().statusCode(503)
                .body("error.code", equalTo("no_provider_available"))
                .body("error.message", allOf(containsString("provider.ignore"), containsString("provider.max_price.completion")));
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 1,
                        "provider", routing(both, "sort", "cheapest")))
                .post("/v1/completions").then().statusCode(400).body("error.param", equalTo("provider.sort"));
        Market.assertSettled(buyer, "1.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldSkipAnEndpointThatUsedItsTokensPerMinute() throws InterruptedException {
        // Proves the tokens-per-minute capacity: once an endpoint served its minute's tokens, requests go elsewhere.
        while (System.currentTimeMillis() % 60_000 > 55_000) {
            Thread.sleep(200); // the counter restarts with each calendar minute: keep the test inside one
        }
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        String small = as(provider.key()).body(Map.of(
                        "model", Market.MODEL, "hardware", "test cpu", "hardware_class", "cpu", "region", "local",
                        "pricing", Map.of("prompt", "1.00", "completion", "1.00"),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 30, "max_concurrency", 8),
                        "backend", Map.of("type", "reference")))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
        String spare = Market.endpoint(provider, "2.00", "2.00", 100, 200, 8);
        Map<String, String> prices = Map.of(small, "1.00", spare, "2.00");
        List<Generation> served = new ArrayList<>();
        served.add(Market.billed(as(buyer.key())
                .body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 40, "provider", routing(List.of(small))))
                .post("/v1/completions"), "1.00", "1.00"));
        assertEquals(spare, servedBy(buyer, routing(List.of(small, spare)), prices, served));
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 1, "provider", routing(List.of(small))))
                .post("/v1/completions").then().statusCode(503)
                .body("error.message", containsString("capacity (tokens_per_minute reached)"));
        Market.assertSettled(buyer, "1.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldSkipAnEndpointAtItsConcurrencyLimitAndBillAStreamAtThePriceItWasMatchedAt() throws Exception {
        // Proves capacity filtering (max_concurrency) and that a price change mid-flight bills the matched price.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "5.00");
        String single = Market.endpoint(provider, "1000.00", "1000.00", 1, Map.of("type", "reference", "max_tokens_per_second", 10));
        String spare = Market.endpoint(provider, "2000.00", "2000.00", 100, 200, 8);

        // A slow stream occupies the single slot: 12 tokens at 10 tokens/s.
        HttpClient client = HttpClient.newHttpClient();
        HttpRequest slow = HttpRequest.newBuilder(completionsUrl)
                .header("Authorization", "Bearer " + buyer.key()).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + Market.MODEL + "\",\"prompt\":\"\",\"max_tokens\":12,"
                        + "\"temperature\":0,\"stream\":true,\"provider\":{\"only\":[\"" + single + "\"]}}"))
                .build();
        HttpResponse<InputStream> streaming = client.send(slow, HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, streaming.statusCode());
        BufferedReader reader = new BufferedReader(new InputStreamReader(streaming.body(), StandardCharsets.UTF_8));
        String firstLine = reader.readLine();
        assertTrue(firstLine != null, "the stream started");
        CompletableFuture<String> rest = CompletableFuture.supplyAsync(() -> reader.lines().reduce("", (a, b) -> a + b + "\n"),
                java.util.concurrent.Executors.newSingleThreadExecutor());

        // While it runs: the full endpoint is skipped, or named in a 503 when it is the only one allowed.
        List<Generation> served = new ArrayList<>();
        assertEquals(spare, servedBy(buyer, routing(List.of(single, spare)), Map.of(spare, "2000.00"), served));
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 1, "provider", routing(List.of(single))))
                .post("/v1/completions").then().statusCode(503)
                .body("error.message", containsString("capacity (max_concurrency reached)"));
        // The provider doubles its price mid-flight; the running stream keeps the price it was matched at.
        as(provider.key()).body(Map.of("pricing", Map.of("prompt", "2000.00", "completion", "2000.00")))
                .patch("/api/endpoints/" + single).then().statusCode(200);

        ServerSentEvents events = ServerSentEvents.parse(firstLine + "\n" + rest.get());
        JsonPath usage = events.chunks().getLast();
        int tokens = usage.getInt("usage.prompt_tokens") + usage.getInt("usage.completion_tokens");
        assertEquals(13, tokens, "BOS plus 12 completion tokens");
        assertEquals("0.013", usage.getString("usage.cost"), "13 tokens at the old 1000 USD per million");
        served.add(new Generation(streaming.headers().firstValue("X-Generation-Id").orElseThrow(), Market.usd("0.013")));
        Response after = as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 1, "temperature", 0,
                        "provider", routing(List.of(single))))
                .post("/v1/completions");
        assertEquals("0.004", after.then().statusCode(200).extract().path("usage.cost"), "2 tokens at the new 2000 USD per million");
        served.add(Market.billed(after, "2000.00", "2000.00"));
        Market.assertSettled(buyer, "5.00", provider, served);
        Market.assertLedgerBalanced();
    }
}
