package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.ServerSentEvents;
import dev.tokenmarket.testing.TestUpstream.Behaviour;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Proxying to OpenAI-compatible upstreams, against a real local one that generates with its own engine. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class UpstreamProxyTest extends UpstreamMarketTest {

    @TestHTTPResource("/v1/chat/completions")
    URI chatUrl;

    private String upstreamEndpoint(String price) {
        String id = Market.endpoint(provider, price, price, 8, Map.of("type", "openai", "url", upstream.url(),
                "api_key", "sk-test-upstream", "model", "stories260k"));
        listed.add(id);
        return id;
    }

    private String referenceEndpoint(String price) {
        String id = Market.endpoint(provider, price, price, 100, 200, 8);
        listed.add(id);
        return id;
    }

    private static Map<String, Object> chat(int maxTokens, Map<String, Object> routing) {
        Map<String, Object> request = new HashMap<>(Map.of("model", Market.MODEL, "max_tokens", maxTokens, "temperature", 0,
                "messages", List.of(Map.of("role", "user", "content", "The cat")), "provider", routing));
        return request;
    }

    private static Map<String, Object> streamed(Map<String, Object> request) {
        request.put("stream", true);
        return request;
    }

    @Test
    void shouldProxyAStreamTokenByTokenAndBillTheUsageTheUpstreamReports() {
        // Proves streaming pass-through: the upstream's tokens arrive as separate chunks and its usage is billed.
        String viaUpstream = upstreamEndpoint("1000.00");
        String local = referenceEndpoint("1000.00");
        Response whole = as(buyer.key()).body(chat(25, Market.only(local))).post("/v1/chat/completions");
        Generation wholeGeneration = Market.billed(whole, "1000.00", "1000.00");
        String expected = whole.path("choices[0].message.content");

        Response response = as(buyer.key()).body(streamed(chat(25, Market.only(viaUpstream)))).post("/v1/chat/completions");
        assertEquals(200, response.statusCode());
        ServerSentEvents events = ServerSentEvents.parse(response.asString());
        assertEquals(expected, events.text(0), "same model, greedy: the proxied text equals the local one");
        assertTrue(events.chunks().size() > 20, "token by token, not one block");
        JsonPath last = events.chunks().getLast();
        assertEquals(25, last.getInt("usage.completion_tokens"));
        assertEquals(viaUpstream, last.getString("endpoint_id"));
        Market.assertSettled(buyer, "5.00", provider,
                List.of(wholeGeneration, Market.billed(response, events, "1000.00", "1000.00")));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldPassTheUpstreamsLogProbabilitiesThroughInEveryShape() {
        // Proves log-probabilities reach the buyer from an OpenAI-compatible upstream: the same model behind the
        // upstream and behind a local reference endpoint gives the same tokens, log-probabilities and
        // alternatives, for chat whole and streamed and for legacy completions.
        String viaUpstream = upstreamEndpoint("1.00");
        String local = referenceEndpoint("1.00");
        Map<String, Object> request = chat(8, Market.only(local));
        request.put("logprobs", true);
        request.put("top_logprobs", 2);
        List<Generation> served = new ArrayList<>();
        Response expectedResponse = as(buyer.key()).body(request).post("/v1/chat/completions");
        served.add(Market.billed(expectedResponse, "1.00", "1.00"));
        JsonPath expected = expectedResponse.jsonPath();
        List<Map<String, Object>> expectedContent = expected.getList("choices[0].logprobs.content");
        assertEquals(8, expectedContent.size());

        request.put("provider", Market.only(viaUpstream));
        Response wholeResponse = as(buyer.key()).body(request).post("/v1/chat/completions");
        served.add(Market.billed(wholeResponse, "1.00", "1.00"));
        JsonPath whole = wholeResponse.jsonPath();
        assertEquals(viaUpstream, whole.getString("endpoint_id"));
        assertSameLogprobs(expectedContent, whole.getList("choices[0].logprobs.content"));

        Response streamedResponse = as(buyer.key()).body(streamed(request)).post("/v1/chat/completions");
        ServerSentEvents events = ServerSentEvents.parse(streamedResponse.asString());
        served.add(Market.billed(streamedResponse, events, "1.00", "1.00"));
        List<Map<String, Object>> streamedContent = new ArrayList<>();
        for (JsonPath chunk : events.chunks()) {
            List<Map<String, Object>> content = chunk.getList("choices[0].logprobs.content");
            if (content != null) {
                streamedContent.addAll(content);
            }
        }
        assertSameLogprobs(expectedContent, streamedContent);

        Map<String, Object> legacy = new HashMap<>(Map.of("model", Market.MODEL, "prompt", "The cat", "max_tokens", 8,
                "temperature", 0, "logprobs", 2, "provider", Market.only(local)));
        Response legacyExpectedResponse = as(buyer.key()).body(legacy).post("/v1/completions");
        served.add(Market.billed(legacyExpectedResponse, "1.00", "1.00"));
        JsonPath legacyExpected = legacyExpectedResponse.jsonPath();
        legacy.put("provider", Market.only(viaUpstream));
        Response legacyProxiedResponse = as(buyer.key()).body(legacy).post("/v1/completions");
        served.add(Market.billed(legacyProxiedResponse, "1.00", "1.00"));
        JsonPath legacyProxied = legacyProxiedResponse.jsonPath();
        assertEquals(legacyExpected.getList("choices[0].logprobs.tokens"), legacyProxied.getList("choices[0].logprobs.tokens"));
        assertEquals(legacyExpected.getList("choices[0].logprobs.token_logprobs"),
                legacyProxied.getList("choices[0].logprobs.token_logprobs"));
        assertEquals(legacyExpected.getList("choices[0].logprobs.top_logprobs"),
                legacyProxied.getList("choices[0].logprobs.top_logprobs"));
        Market.assertSettled(buyer, "5.00", provider, served);
        Market.assertLedgerBalanced();
    }

    private static void assertSameLogprobs(List<Map<String, Object>> expected, List<Map<String, Object>> actual) {
        assertNotNull(actual, "the response carries log-probabilities");
        assertEquals(expected.size(), actual.size(), "one entry per token: " + actual);
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i).get("token"), actual.get(i).get("token"), "token " + i);
            assertEquals(((Number) expected.get(i).get("logprob")).doubleValue(), ((Number) actual.get(i).get("logprob")).doubleValue(),
                    1e-9, "logprob of token " + i);
            assertEquals(expected.get(i).get("top_logprobs"), actual.get(i).get("top_logprobs"), "alternatives of token " + i);
        }
    }

    @Test
    void shouldCountTokensWithTheModelTokenizerWhenTheUpstreamReportsNoUsage() {
        // Proves an upstream without usage is still billed, by counting its text with the model's tokenizer.
        String viaUpstream = upstreamEndpoint("1000.00");
        upstream.behave(Behaviour.SERVE_WITHOUT_USAGE);
        Response response = as(buyer.key()).body(chat(20, Market.only(viaUpstream))).post("/v1/chat/completions");
        Generation served = Market.billed(response, "1000.00", "1000.00");
        JsonPath answer = response.jsonPath();
        int completionTokens = answer.getInt("usage.completion_tokens");
        // Re-tokenising text is close to, not exactly, the count sampled: merges and the dummy prefix space differ.
        assertTrue(completionTokens >= 15 && completionTokens <= 22,
                "the 20 generated tokens re-counted by the tokenizer: " + completionTokens);
        assertTrue(answer.getInt("usage.prompt_tokens") > 1);
        Market.assertSettled(buyer, "5.00", provider, List.of(served));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldSendAgainWhenTheUpstreamClosesTheConnectionWithoutAnswering() {
        // Proves a kept-alive connection the upstream closed unanswered is not a failure the buyer sees, even
        // with fallbacks off: the gateway sends the request once more, and the buyer pays for one completion.
        String viaUpstream = upstreamEndpoint("1000.00");
        upstream.behave(Behaviour.CLOSE_ONCE_WITHOUT_ANSWER);
        Map<String, Object> routing = new HashMap<>(Market.only(viaUpstream));
        routing.put("allow_fallbacks", false);
        Response response = as(buyer.key()).body(chat(10, routing)).post("/v1/chat/completions");
        Generation served = Market.billed(response, "1000.00", "1000.00");
        JsonPath answer = response.jsonPath();
        assertEquals(viaUpstream, answer.getString("endpoint_id"));
        assertEquals(10, answer.getInt("usage.completion_tokens"));
        assertEquals(2, upstream.requests(), "closed unanswered once, then served");
        Market.awaitSettled(buyer);
        assertEquals(0, Market.paidSince(buyer, "5.00").compareTo(usd(answer.getString("usage.cost"))), "billed once");
        Market.assertSettled(buyer, "5.00", provider, List.of(served));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldFallBackToTheNextEndpointWhenTheFirstFailsBeforeItsFirstToken() {
        // Proves fallback: the cheaper endpoint answers 500, the request is served by the next one and billed once.
        String failing = upstreamEndpoint("1.00");
        String healthy = referenceEndpoint("2.00");
        upstream.behave(Behaviour.FAIL_WITH_500);
        Response response = as(buyer.key()).body(chat(10, Market.only(failing, healthy))).post("/v1/chat/completions");
        Generation served = Market.billed(response, "2.00", "2.00");
        JsonPath answer = response.jsonPath();
        assertEquals(healthy, answer.getString("endpoint_id"));
        assertEquals(1, upstream.requests(), "the failing endpoint was tried first");
        Market.awaitSettled(buyer);
        BigDecimal charged = Market.paidSince(buyer, "5.00");
        assertEquals(0, charged.compareTo(usd(answer.getString("usage.cost"))), "the failed attempt's hold was released");
        Market.assertSettled(buyer, "5.00", provider, List.of(served));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldCountARequestServedByAFallbackAsOneRequestAgainstTheKeysRateLimit() throws InterruptedException {
        // Proves the key's requests-per-minute counts what the buyer sent, not the attempts behind it: with a
        // limit of 2, a request that failed over from one endpoint to another leaves room for exactly one more.
        String failing = upstreamEndpoint("1.00");
        String healthy = referenceEndpoint("2.00");
        as(buyer.key()).body(Map.of("requests_per_minute", 2)).put("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(200);
        upstream.behave(Behaviour.FAIL_WITH_500);
        // The window is the UTC calendar minute: start early in one, so that all three requests share it.
        long secondOfMinute = Instant.now().getEpochSecond() % 60;
        if (secondOfMinute > 45) {
            Thread.sleep((61 - secondOfMinute) * 1_000);
        }

        Response failedOverResponse = as(buyer.key()).body(chat(10, Market.only(failing, healthy))).post("/v1/chat/completions");
        List<Generation> served = new ArrayList<>(List.of(Market.billed(failedOverResponse, "2.00", "2.00")));
        JsonPath failedOver = failedOverResponse.jsonPath();
        assertEquals(healthy, failedOver.getString("endpoint_id"));
        assertEquals(1, upstream.requests(), "the failing endpoint was tried first");
        as(buyer.key()).get("/api/keys/" + buyer.keyId() + "/limits")
                .then().statusCode(200).body("current.requests_this_minute", equalTo(1));
        served.add(Market.billed(as(buyer.key()).body(chat(10, Market.only(failing, healthy))).post("/v1/chat/completions"),
                "2.00", "2.00"));
        as(buyer.key()).body(chat(10, Market.only(failing, healthy))).post("/v1/chat/completions")
                .then().statusCode(429).body("error.code", equalTo("rate_limited"));
        Market.assertSettled(buyer, "5.00", provider, served);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldFallBackWhenAnUpstreamSendsNothingBeforeTheFirstByteTimeout() {
        // Proves the first-byte timeout: a silent upstream is abandoned and the next endpoint serves the stream.
        String silent = upstreamEndpoint("1.00");
        String healthy = referenceEndpoint("2.00");
        upstream.behave(Behaviour.HANG);
        Response response = as(buyer.key()).body(streamed(chat(10, Market.only(silent, healthy)))).post("/v1/chat/completions");
        ServerSentEvents events = ServerSentEvents.parse(response.asString());
        assertTrue(events.endsWithDone());
        assertEquals(healthy, events.chunks().getLast().getString("endpoint_id"));
        Market.assertSettled(buyer, "5.00", provider, List.of(Market.billed(response, events, "2.00", "2.00")));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldAnswer502WithoutTryingOthersWhenFallbacksAreDisallowed() {
        // Proves allow_fallbacks:false: the failure is reported, no other endpoint is used, nothing is charged.
        String failing = upstreamEndpoint("1.00");
        String healthy = referenceEndpoint("2.00");
        upstream.behave(Behaviour.FAIL_WITH_500);
        as(buyer.key()).body(chat(10, Map.of("only", List.of(failing, healthy), "allow_fallbacks", false)))
                .post("/v1/chat/completions").then().statusCode(502)
                .body("error.code", equalTo("upstream_failed"))
                .body("error.message", containsString("allow_fallbacks is false"));
        Map<String, String> balance = Market.balance(buyer);
        assertEquals(0, usd("5.00").compareTo(usd(balance.get("available"))), balance.toString());
        Market.assertSettled(buyer, "5.00", provider, List.of());
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldAnswerAStreamingRequestWith502WhenEveryCandidateFailsBeforeItsFirstToken() {
        // Proves a stream that never started gets a plain error status, not a 200 with an error event.
        String failing = upstreamEndpoint("1.00");
        upstream.behave(Behaviour.FAIL_WITH_500);
        as(buyer.key()).body(streamed(chat(10, Map.of("only", List.of(failing), "allow_fallbacks", false))))
                .post("/v1/chat/completions").then().statusCode(502)
                .body("error.code", equalTo("upstream_failed"));
        Map<String, String> balance = Market.balance(buyer);
        assertEquals(0, usd("5.00").compareTo(usd(balance.get("available"))), balance.toString());
        Market.assertSettled(buyer, "5.00", provider, List.of());
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldTakeAFailingEndpointOutOfRotationAndBringItBackAfterTheCoolDown() {
        // Proves the circuit breaker: after 3 failures the endpoint is skipped (503 names why), then returns by itself.
        String flaky = upstreamEndpoint("1.00");
        upstream.behave(Behaviour.FAIL_WITH_500);
        for (int i = 0; i < 3; i++) {
            as(buyer.key()).body(chat(5, Market.only(flaky))).post("/v1/chat/completions").then().statusCode(502);
        }
        as(buyer.key()).body(chat(5, Market.only(flaky))).post("/v1/chat/completions").then().statusCode(503)
                .body("error.code", equalTo("no_provider_available"))
                .body("error.message", containsString("circuit breaker"));
        assertEquals(3, upstream.requests(), "an open circuit sends nothing upstream");

        upstream.behave(Behaviour.SERVE);
        Response served = await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(250)).until(() ->
                as(buyer.key()).body(chat(5, Market.only(flaky))).post("/v1/chat/completions"), r -> r.statusCode() == 200);
        Market.assertSettled(buyer, "5.00", provider, List.of(Market.billed(served, "1.00", "1.00")));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldCloseTheUpstreamsStreamAndBillOnlyTheDeliveredTokensWhenTheClientDisconnects() throws Exception {
        // Proves a buyer who leaves mid-stream stops the provider's generation too, and pays for what was produced.
        String endpoint = upstreamEndpoint("1000.00");
        upstream.behave(Behaviour.SERVE_SLOWLY);
        String id = ServerSentEvents.readChunksThenLeave(chatUrl, buyer.key(), streamed(chat(200, Market.only(endpoint))), 3);

        await().atMost(Duration.ofSeconds(20)).until(() -> upstream.streamsCutByTheClient() == 1);
        JsonPath generation = await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> as(buyer.key()).queryParam("id", id).get("/v1/generation"), r -> r.statusCode() == 200)
                .jsonPath();
        assertEquals(true, generation.getBoolean("data.cancelled"));
        int completionTokens = generation.getInt("data.completion_tokens");
        assertTrue(completionTokens >= 3 && completionTokens < 100, "stopped soon after the client left: " + completionTokens);
        Market.awaitSettled(buyer);
        assertEquals(0, Market.paidSince(buyer, "5.00").compareTo(usd(generation.getString("data.cost"))),
                "billed exactly the generation's cost");
        Market.assertSettled(buyer, "5.00", provider, List.of(Market.billed(id, generation, "1000.00", "1000.00")));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldEndTheStreamWithAnErrorEventAndBillTheDeliveredTokensWhenTheUpstreamBreaksMidStream() {
        // Proves no silent switch after the first token: the client gets an error event and pays for what it received.
        String breaking = upstreamEndpoint("500.00");
        String healthy = referenceEndpoint("1000.00");
        upstream.behave(Behaviour.BREAK_AFTER_THREE_TOKENS);
        Response response = as(buyer.key()).body(streamed(chat(30, Market.only(breaking, healthy)))).post("/v1/chat/completions");
        ServerSentEvents events = ServerSentEvents.parse(response.asString());
        assertTrue(!events.endsWithDone(), "an interrupted stream does not claim completion");
        JsonPath last = events.chunks().getLast();
        assertEquals("upstream_failed", last.getString("error.code"));
        String id = response.header("X-Generation-Id");
        Market.awaitSettled(buyer);
        JsonPath generation = as(buyer.key()).queryParam("id", id).get("/v1/generation").then().statusCode(200)
                .extract().jsonPath();
        assertEquals(breaking, generation.getString("data.endpoint_id"), "no switch to the healthy endpoint");
        assertTrue(generation.getInt("data.completion_tokens") >= 1 && generation.getInt("data.completion_tokens") <= 5,
                "the three delivered tokens, re-counted: " + generation.getInt("data.completion_tokens"));
        BigDecimal charged = Market.paidSince(buyer, "5.00");
        assertEquals(0, charged.compareTo(usd(generation.getString("data.cost"))));
        Market.assertSettled(buyer, "5.00", provider, List.of(Market.billed(id, generation, "500.00", "500.00")));
        Market.assertLedgerBalanced();
    }
}
