package dev.tokenmarket.testing;

import io.restassured.http.ContentType;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

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

    /** The closing check of every test that moves money: the ledger balances and agrees with its postings. */
    public static void assertLedgerBalanced() {
        as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200)
                .body("difference", equalTo("0.00"))
                .body("balanced", equalTo(true));
        as(ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200)
                .body("consistent", equalTo(true));
    }
}
