package dev.tokenmarket.testing;

import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Drives the marketplace through its public HTTP API, the way its users do. */
public final class Market {

    public static final String ADMIN_KEY = "test-admin-key";
    public static final String MODEL = "stories260k";

    private Market() {
    }

    /** An organization with its first key: the secret, and the key's id for the limits and usage API. */
    public record Org(String id, String key, String keyId) {
    }

    public static RequestSpecification as(String key) {
        return given().header("Authorization", "Bearer " + key).contentType(ContentType.JSON);
    }

    public static Org org(String name, String... roles) {
        String id = as(ADMIN_KEY).body(Map.of("name", name + " " + UUID.randomUUID(), "roles", List.of(roles)))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        io.restassured.path.json.JsonPath created = as(ADMIN_KEY).body(Map.of("name", "test key"))
                .post("/api/orgs/" + id + "/keys").then().statusCode(201).extract().jsonPath();
        return new Org(id, created.getString("key"), created.getString("id"));
    }

    /** Lists a reference-engine endpoint for stories260k; prices in USD per 1M tokens. */
    public static String endpoint(Org provider, String promptPrice, String completionPrice) {
        return endpoint(provider, promptPrice, completionPrice, 100, 200, 8);
    }

    public static String endpoint(Org provider, String promptPrice, String completionPrice, int throughputTps,
                                  int ttftMs, int maxConcurrency) {
        return as(provider.key()).body(Map.of(
                        "model", MODEL, "hardware", "test cpu", "hardware_class", "cpu", "region", "local",
                        "pricing", Map.of("prompt", promptPrice, "completion", completionPrice),
                        "declared", Map.of("throughput_tps", throughputTps, "ttft_ms", ttftMs),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", maxConcurrency),
                        "backend", Map.of("type", "reference")))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
    }

    /** Lists an endpoint with any backend object (reference with pacing, or an OpenAI-compatible upstream). */
    public static String endpoint(Org provider, String promptPrice, String completionPrice, int maxConcurrency,
                                  Map<String, Object> backend) {
        return as(provider.key()).body(Map.of(
                        "model", MODEL, "hardware", "test cpu", "hardware_class", "cpu", "region", "local",
                        "pricing", Map.of("prompt", promptPrice, "completion", completionPrice),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", maxConcurrency),
                        "backend", backend))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
    }

    /** Routing preferences that pin a request to the given endpoints (the catalog is shared by all test classes). */
    public static Map<String, Object> only(String... endpointIds) {
        return Map.of("only", List.of(endpointIds));
    }

    /** A short greedy completion pinned to one endpoint: its hold is the prompt plus {@code maxTokens} at the endpoint's prices. */
    public static Map<String, Object> completion(String endpointId, int maxTokens) {
        return Map.of("model", MODEL, "prompt", "Tim", "max_tokens", maxTokens, "temperature", 0, "provider", only(endpointId));
    }

    public static Response deposit(Org buyer, String amountUsd, String idempotencyKey) {
        return as(ADMIN_KEY).header("Idempotency-Key", idempotencyKey)
                .body(Map.of("org_id", buyer.id(), "amount", amountUsd, "reference", "test deposit"))
                .post("/api/ledger/deposits");
    }

    public static void funded(Org buyer, String amountUsd) {
        deposit(buyer, amountUsd, UUID.randomUUID().toString()).then().statusCode(201);
    }

    public static Map<String, String> balance(Org org) {
        return as(org.key()).get("/api/balance").then().statusCode(200).extract().jsonPath().getMap("$");
    }

    /** What the buyer's wallet paid since it was funded with {@code depositedUsd} (settled postings only). */
    public static BigDecimal paidSince(Org buyer, String depositedUsd) {
        return usd(depositedUsd).subtract(usd(balance(buyer).get("posted")));
    }

    public static BigDecimal usd(String amount) {
        return new BigDecimal(amount);
    }

    /** Waits until the buyer has no open hold: every usage event of its requests is settled. */
    public static void awaitSettled(Org buyer) {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                .until(() -> usd(balance(buyer).get("held")).signum() == 0);
    }

    /** One generation a test was served, as its response told the buyer: its id and its cost. */
    public record Generation(String id, BigDecimal costUsd) {
    }

    /** The generation a 200 completion response (whole) reports. */
    public static Generation served(Response response) {
        return new Generation(response.path("id"), usd(response.path("usage.cost")));
    }

    /**
     * The cost the test computes for a 200 completion response from its usage's tokens at the endpoint's prices
     * (USD per million tokens), rounded half-even to the nano-USD as the product brief defines it.
     */
    public static BigDecimal expectedCost(Response response, String promptPrice, String completionPrice) {
        return expectedCost(response.<Integer>path("usage.prompt_tokens"), response.<Integer>path("usage.completion_tokens"),
                promptPrice, completionPrice);
    }

    /** The same for these token counts. */
    public static BigDecimal expectedCost(int promptTokens, int completionTokens, String promptPrice, String completionPrice) {
        return usd(promptPrice).multiply(BigDecimal.valueOf(promptTokens))
                .add(usd(completionPrice).multiply(BigDecimal.valueOf(completionTokens)))
                .divide(BigDecimal.valueOf(1_000_000), 9, RoundingMode.HALF_EVEN);
    }

    /**
     * The generation a 200 whole completion response reports, its cost checked against its tokens at these prices
     * (USD per million tokens): the test's own figure, not the gateway's, is what the balances are checked against.
     */
    public static Generation billed(Response response, String promptPrice, String completionPrice) {
        response.then().statusCode(200);
        BigDecimal expected = expectedCost(response, promptPrice, completionPrice);
        assertEquals(0, expected.compareTo(usd(response.path("usage.cost"))), "cost at its tokens' price: " + response.asString());
        return new Generation(response.path("id"), expected);
    }

    /** The same for a whole stream: its usage chunk's tokens and cost, under the X-Generation-Id the stream named. */
    public static Generation billed(Response response, ServerSentEvents events, String promptPrice, String completionPrice) {
        io.restassured.path.json.JsonPath usage = events.chunks().getLast();
        BigDecimal expected = expectedCost(usage.getInt("usage.prompt_tokens"), usage.getInt("usage.completion_tokens"),
                promptPrice, completionPrice);
        assertEquals(0, expected.compareTo(usd(usage.getString("usage.cost"))), "cost at its tokens' price: " + usage.prettify());
        return new Generation(response.header("X-Generation-Id"), expected);
    }

    /** The same for a generation as {@code GET /v1/generation} reports it (a stream cut short, or left by its buyer). */
    public static Generation billed(String generationId, io.restassured.path.json.JsonPath generation, String promptPrice,
                                    String completionPrice) {
        BigDecimal expected = expectedCost(generation.getInt("data.prompt_tokens"), generation.getInt("data.completion_tokens"),
                promptPrice, completionPrice);
        assertEquals(0, expected.compareTo(usd(generation.getString("data.cost"))), "cost at its tokens' price: " + generation.prettify());
        return new Generation(generationId, expected);
    }

    /** A provider's share of a generation, as the product brief defines it: the cost less the fee, rounded half-even. */
    public static BigDecimal providerShare(BigDecimal costUsd) {
        BigDecimal fee = costUsd.multiply(BigDecimal.valueOf(UsageEvents.FEE_BPS))
                .divide(BigDecimal.valueOf(10_000), 9, RoundingMode.HALF_EVEN);
        return costUsd.subtract(fee);
    }

    /**
     * The closing check of a test that served these generations, all from one provider, to a buyer funded with
     * {@code depositedUsd}: the buyer paid exactly their costs and holds nothing, the provider earned exactly
     * their shares, and the ledger posted each generation once, with no dead letter and no amount mismatch.
     */
    public static void assertSettled(Org buyer, String depositedUsd, Org provider, List<Generation> served) {
        awaitSettled(buyer);
        BigDecimal costs = served.stream().map(Generation::costUsd).reduce(BigDecimal.ZERO, BigDecimal::add);
        BigDecimal shares = served.stream().map(g -> providerShare(g.costUsd())).reduce(BigDecimal.ZERO, BigDecimal::add);
        Map<String, String> wallet = balance(buyer);
        assertEquals(0, usd(depositedUsd).subtract(costs).compareTo(usd(wallet.get("posted"))),
                "the buyer paid the costs of " + served.size() + " generations, " + costs + " USD: " + wallet);
        assertEquals(0, usd(wallet.get("available")).compareTo(usd(wallet.get("posted"))), "nothing held: " + wallet);
        String earned = as(provider.key()).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, shares.compareTo(usd(earned)), "the provider earned its shares, " + shares + " USD: " + earned);
        List<Map<String, Object>> buyers = as(ADMIN_KEY).get("/api/ledger/reconciliation").then().statusCode(200)
                .extract().jsonPath().getList("by_buyer");
        Map<String, Object> reconciled = buyers.stream().filter(row -> buyer.id().equals(row.get("org_id")))
                .findFirst().orElse(Map.of("events_metered", 0, "entries_posted", 0, "awaiting_settlement", 0,
                        "dead_lettered", 0, "amount_mismatches", 0));
        assertEquals(served.size(), reconciled.get("events_metered"), "metered: " + reconciled);
        assertEquals(served.size(), reconciled.get("entries_posted"), "posted once each: " + reconciled);
        assertEquals(0, reconciled.get("awaiting_settlement"), reconciled.toString());
        assertEquals(0, reconciled.get("dead_lettered"), "nothing dead-lettered: " + reconciled);
        assertEquals(0, reconciled.get("amount_mismatches"), reconciled.toString());
    }

    /** The closing check of every test that moves money: the ledger balances and agrees with its postings. */
    public static void assertLedgerBalanced() {
        as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200)
                .body("difference", equalTo("0.00"))
                .body("balanced", equalTo(true));
        as(ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200)
                .body("consistent", equalTo(true));
    }
}
