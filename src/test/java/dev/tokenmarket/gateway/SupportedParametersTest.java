package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.allOf;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The parameters an OpenAI-compatible upstream takes ({@code supported_parameters} on its endpoint): what
 * the gateway sends it, how {@code provider.require_parameters} routes, and how the catalog validates them.
 * The upstream is a real local server generating with its own reference engine.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class SupportedParametersTest extends UpstreamMarketTest {

    private static final List<String> WITH_TOP_K = List.of("temperature", "top_p", "top_k", "seed", "stop", "n");

    /** Lists an endpoint on the test upstream; {@code supported} null leaves the field out (OpenAI's set). */
    private Response list(String price, List<String> supported) {
        return list(Market.MODEL, price, supported);
    }

    private Response list(String model, String price, List<String> supported) {
        Map<String, Object> body = new HashMap<>(Map.of(
                "model", model, "hardware", "test cpu", "hardware_class", "cpu", "region", "local",
                "pricing", Map.of("prompt", price, "completion", price),
                "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                "backend", Map.of("type", "openai", "url", upstream.url(), "model", "stories260k")));
        if (supported != null) {
            body.put("supported_parameters", supported);
        }
        Response response = as(provider.key()).body(body).post("/api/endpoints");
        if (response.statusCode() == 201) {
            listed.add(response.path("id"));
        }
        return response;
    }

    private String listed(String price, List<String> supported) {
        return list(price, supported).then().statusCode(201).extract().path("id");
    }

    private static Map<String, Object> chat(Map<String, Object> parameters, Map<String, Object> routing) {
        Map<String, Object> request = new HashMap<>(Map.of("model", Market.MODEL, "max_tokens", 30,
                "messages", List.of(Map.of("role", "user", "content", "The cat")), "provider", routing));
        request.putAll(parameters);
        return request;
    }

    @Test
    void shouldSendTopKOnlyToAnUpstreamWhoseEndpointTakesIt() {
        // Proves top_k reaches an upstream that declares it (and takes effect there: top_k 1 samples greedily),
        // and is left out for one that does not, which would otherwise answer 400 as OpenAI's own API does.
        String takesTopK = listed("1000.00", WITH_TOP_K);
        String openAiSet = listed("1000.00", null);
        List<Generation> served = new ArrayList<>();
        Response greedyResponse = as(buyer.key()).body(chat(Map.of("temperature", 0), Market.only(takesTopK)))
                .post("/v1/chat/completions");
        served.add(Market.billed(greedyResponse, "1000.00", "1000.00"));
        String greedy = greedyResponse.path("choices[0].message.content");

        Map<String, Object> sampledTopK1 = Map.of("temperature", 1.0, "top_k", 1, "seed", 7);
        Response viaTopKResponse = as(buyer.key()).body(chat(sampledTopK1, Market.only(takesTopK)))
                .post("/v1/chat/completions");
        served.add(Market.billed(viaTopKResponse, "1000.00", "1000.00"));
        String viaTopK = viaTopKResponse.path("choices[0].message.content");
        assertEquals(1, upstream.lastBody().path("top_k").asInt(), "the upstream was sent top_k");
        assertEquals(greedy, viaTopK, "top_k 1 at temperature 1 picks the most likely token every time");

        Response dropped = as(buyer.key()).body(chat(sampledTopK1, Market.only(openAiSet))).post("/v1/chat/completions");
        dropped.then().statusCode(200).body("endpoint_id", equalTo(openAiSet));
        served.add(Market.billed(dropped, "1000.00", "1000.00"));
        JsonNode sent = upstream.lastBody();
        assertFalse(sent.has("top_k"), "an upstream that does not list top_k is not sent it: " + sent);
        assertEquals(7, sent.path("seed").asInt(), "the parameters it takes are still sent");
        Market.assertSettled(buyer, "5.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldRouteOnlyToEndpointsTakingEveryParameterWhenTheBuyerRequiresThem() {
        // Proves provider.require_parameters skips a cheaper endpoint that would drop top_k, that without it
        // the cheapest serves (top_k dropped), that n > 1 is never sent where it cannot be served, and that
        // the 503 names the missing parameter.
        String cheapWithoutTopK = listed("500.00", List.of("temperature", "top_p", "seed"));
        String dearWithTopK = listed("1000.00", WITH_TOP_K);
        Map<String, Object> topK = Map.of("temperature", 1.0, "top_k", 3);

        List<Generation> served = new ArrayList<>();
        Response cheap = as(buyer.key()).body(chat(topK, Market.only(cheapWithoutTopK, dearWithTopK))).post("/v1/chat/completions");
        cheap.then().statusCode(200).body("endpoint_id", equalTo(cheapWithoutTopK));
        served.add(Market.billed(cheap, "500.00", "500.00"));
        Response required = as(buyer.key())
                .body(chat(topK, Map.of("only", List.of(cheapWithoutTopK, dearWithTopK), "require_parameters", true)))
                .post("/v1/chat/completions");
        required.then().statusCode(200).body("endpoint_id", equalTo(dearWithTopK));
        served.add(Market.billed(required, "1000.00", "1000.00"));
        assertEquals(3, upstream.lastBody().path("top_k").asInt());
        Response twoChoices = as(buyer.key()).body(chat(Map.of("n", 2), Market.only(cheapWithoutTopK, dearWithTopK)))
                .post("/v1/chat/completions");
        twoChoices.then().statusCode(200).body("endpoint_id", equalTo(dearWithTopK));
        served.add(Market.billed(twoChoices, "1000.00", "1000.00"));
        assertEquals(2, upstream.lastBody().path("n").asInt(), "n went to the endpoint that takes it, though dearer");

        int requestsBefore = upstream.requests();
        as(buyer.key()).body(chat(topK, Map.of("only", List.of(cheapWithoutTopK), "require_parameters", true)))
                .post("/v1/chat/completions").then().statusCode(503)
                .body("error.code", equalTo("no_provider_available"))
                .body("error.message", containsString("1 excluded by provider.require_parameters (top_k not supported)"));
        as(buyer.key()).body(chat(Map.of("n", 2), Market.only(cheapWithoutTopK)))
                .post("/v1/chat/completions").then().statusCode(503)
                .body("error.message", containsString("provider.require_parameters (n not supported)"));
        assertEquals(requestsBefore, upstream.requests(), "a refused request never reaches the upstream");
        Market.assertSettled(buyer, "5.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldListPerModelTheParametersAtLeastOneEndpointTakes() {
        // Proves GET /v1/models shows the union over a model's active endpoints, as OpenRouter's model list does.
        String model = "params-" + java.util.UUID.randomUUID();
        list(model, "1.00", List.of("temperature", "top_k")).then().statusCode(201);
        String second = list(model, "1.00", List.of("seed")).then().statusCode(201).extract().path("id");
        as(buyer.key()).get("/v1/models").then().statusCode(200)
                .body("data.find { it.id == '" + model + "' }.supported_parameters", equalTo(List.of("temperature", "top_k", "seed")))
                .body("data.find { it.id == '" + model + "' }.endpoints", equalTo(2));
        as(provider.key()).body(Map.of("status", "paused")).patch("/api/endpoints/" + second).then().statusCode(200);
        as(buyer.key()).get("/v1/models").then().statusCode(200)
                .body("data.find { it.id == '" + model + "' }.supported_parameters", equalTo(List.of("temperature", "top_k")));
    }

    @Test
    void shouldValidateAndShowTheParametersAnEndpointTakes() {
        // Proves the catalog shows each endpoint's full list, refuses unknown names and lists on the reference
        // engine without listing anything, and that a change applies to the next request.
        String id = listed("1000.00", List.of("seed", "top_k", "temperature", "seed"));
        as(provider.key()).get("/api/endpoints/" + id).then().statusCode(200)
                .body("supported_parameters", equalTo(List.of("temperature", "top_k", "seed")));
        String openAiSet = listed("1000.00", null);
        as(buyer.key()).get("/v1/models/" + Market.MODEL + "/endpoints").then().statusCode(200)
                .body("data.endpoints.find { it.id == '" + openAiSet + "' }.supported_parameters", equalTo(List.of(
                        "temperature", "top_p", "stop", "seed", "presence_penalty", "frequency_penalty", "logprobs",
                        "top_logprobs", "n", "user")));
        String reference = Market.endpoint(provider, "1000.00", "1000.00");
        listed.add(reference);
        as(provider.key()).get("/api/endpoints/" + reference).then().statusCode(200)
                .body("supported_parameters.size()", equalTo(11)).body("supported_parameters", hasItem("top_k"));

        int endpointsBefore = as(provider.key()).get("/api/endpoints").then().statusCode(200).extract().path("data.size()");
        list("1000.00", List.of("top_k", "min_p")).then().statusCode(400)
                .body("code", equalTo("invalid_request")).body("field", equalTo("supported_parameters"))
                .body("detail", allOf(containsString("'min_p'"), containsString("top_k")));
        as(provider.key()).body(Map.of("model", Market.MODEL, "hardware", "test cpu", "hardware_class", "cpu",
                        "region", "local", "pricing", Map.of("prompt", "1.00", "completion", "1.00"),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                        "backend", Map.of("type", "reference"), "supported_parameters", List.of("top_k")))
                .post("/api/endpoints").then().statusCode(400).body("field", equalTo("supported_parameters"));
        list("1000.00", java.util.Collections.nCopies(101, "seed")).then().statusCode(400)
                .body("field", equalTo("supported_parameters")).body("detail", containsString("more than 100 entries"));
        as(provider.key()).body(Map.of("supported_parameters", List.of("nucleus")))
                .patch("/api/endpoints/" + openAiSet).then().statusCode(400).body("field", equalTo("supported_parameters"));
        assertEquals(endpointsBefore, (int) as(provider.key()).get("/api/endpoints").then().extract().path("data.size()"),
                "refused listings add nothing");

        as(provider.key()).body(Map.of("supported_parameters", List.of("temperature", "top_k")))
                .patch("/api/endpoints/" + openAiSet).then().statusCode(200)
                .body("supported_parameters", equalTo(List.of("temperature", "top_k")));
        as(buyer.key()).body(chat(Map.of("top_k", 2, "seed", 3), Map.of("only", List.of(openAiSet), "require_parameters", true)))
                .post("/v1/chat/completions").then().statusCode(503)
                .body("error.message", containsString("(seed not supported)"));
        Generation served = Market.billed(as(buyer.key()).body(chat(Map.of("top_k", 2, "seed", 3), Market.only(openAiSet)))
                .post("/v1/chat/completions"), "1000.00", "1000.00");
        JsonNode sent = upstream.lastBody();
        assertTrue(sent.has("top_k") && !sent.has("seed") && !sent.has("top_p"), "sent what the changed list says: " + sent);
        Market.assertSettled(buyer, "5.00", provider, List.of(served));
        Market.assertLedgerBalanced();
    }
}
