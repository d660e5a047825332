package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ApiErrorsTest {

    @Test
    void shouldRejectACompletionWithoutAKeyInTheOpenAiErrorShape() {
        // Proves /v1 answers 401 in the shape the OpenAI SDKs parse.
        given().contentType("application/json").body(Map.of("model", Market.MODEL, "prompt", "x"))
                .post("/v1/completions").then().statusCode(401)
                .body("error.type", equalTo("authentication_error"))
                .body("error.code", equalTo("invalid_api_key"));
    }

    @Test
    void shouldRejectAnUnknownKeyWithProblemDetailsOnTheAdminApi() {
        // Proves /api answers 401 as RFC 9457 problem details with a stable code.
        as("tm_not-a-real-key").body(Map.of("name", "x", "roles", List.of("buyer")))
                .post("/api/orgs").then().statusCode(401)
                .contentType("application/problem+json")
                .body("code", equalTo("invalid_api_key"))
                .body("status", equalTo(401));
    }

    @Test
    void shouldRefuseCallsOutsideTheCallersRole() {
        // Proves a buyer cannot administer and a provider cannot buy tokens.
        Org buyer = Market.org("buyer", "buyer");
        Org provider = Market.org("provider", "provider");
        as(buyer.key()).body(Map.of("name", "x", "roles", List.of("buyer"))).post("/api/orgs")
                .then().statusCode(403).body("code", equalTo("forbidden"));
        as(provider.key()).body(Map.of("model", Market.MODEL, "prompt", "x")).post("/v1/completions")
                .then().statusCode(403).body("error.code", equalTo("forbidden"));
        as(buyer.key()).header("Idempotency-Key", "k").body(Map.of("org_id", buyer.id(), "amount", "1.00", "reference", "r"))
                .post("/api/ledger/deposits").then().statusCode(403);
    }

    @Test
    void shouldRefuseABodyOverTheSizeLimitWith413InTheOpenAiShape() {
        // Proves a completion body over the server's 4 MB limit is refused whole, saying what the limit is, and costs nothing.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.10", "0.10");
        Market.funded(buyer, "1.00");
        String prompt = "x".repeat(5 * 1024 * 1024);
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", prompt, "provider", Market.only(endpointId)))
                .post("/v1/completions").then().statusCode(413)
                .body("error.type", equalTo("invalid_request_error"))
                .body("error.code", equalTo("request_too_large"))
                .body("error.message", containsString("4 MB"));
        assertEquals("1.00", Market.balance(buyer).get("posted"));
        assertEquals("1.00", Market.balance(buyer).get("available"));
    }

    @Test
    void shouldAnswer404ForAModelNobodyServes() {
        // Proves an unknown model is a 404 in the OpenAI shape, naming the parameter.
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        as(buyer.key()).body(Map.of("model", "no-such-model", "prompt", "x")).post("/v1/completions")
                .then().statusCode(404)
                .body("error.code", equalTo("model_not_found"))
                .body("error.param", equalTo("model"));
        assertEquals("1.00", Market.balance(buyer).get("available"));
    }

    @Test
    void shouldRefuseARequestTheBalanceCannotCoverAndServeNoTokens() {
        // Proves 402 before any token is served, with every balance unchanged.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "1000.00");
        Market.funded(buyer, "0.01");
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "Once", "max_tokens", 100,
                        "provider", Map.of("only", List.of(endpointId))))
                .post("/v1/completions").then().statusCode(402)
                .body("error.code", equalTo("insufficient_balance"));
        Map<String, String> balance = Market.balance(buyer);
        assertEquals("0.01", balance.get("posted"));
        assertEquals("0.00", balance.get("held"));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldNameTheFieldAtFaultInA400() {
        // Proves malformed JSON and invalid fields are 400s that say what to fix, and change nothing.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        Market.endpoint(provider, "0.10", "0.10");
        Market.funded(buyer, "1.00");
        as(buyer.key()).body("{\"model\": ").post("/v1/completions").then().statusCode(400)
                .body("error.code", equalTo("malformed_json"));
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "x", "temperature", -1)).post("/v1/completions")
                .then().statusCode(400).body("error.param", equalTo("temperature"))
                .body("error.message", containsString("temperature"));
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "x", "max_tokens", 5000)).post("/v1/completions")
                .then().statusCode(400).body("error.code", equalTo("context_length_exceeded"));
        as(provider.key()).body(Map.of("model", Market.MODEL, "hardware", "h", "region", "r",
                        "pricing", Map.of("prompt", "-1", "completion", "0.10"),
                        "declared", Map.of("throughput_tps", 10, "ttft_ms", 10),
                        "capacity", Map.of("tokens_per_minute", 10, "max_concurrency", 1),
                        "backend", Map.of("type", "reference")))
                .post("/api/endpoints").then().statusCode(400)
                .body("field", equalTo("pricing.prompt"));
        as(Market.ADMIN_KEY).header("Idempotency-Key", "bad-amount")
                .body(Map.of("org_id", buyer.id(), "amount", 12.5, "reference", "r"))
                .post("/api/ledger/deposits").then().statusCode(400).body("field", equalTo("amount"));
        assertEquals("1.00", Market.balance(buyer).get("available"));
        Market.assertLedgerBalanced();
    }
}
