package dev.tokenmarket.gateway;

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

import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class StreamingTest {

    @TestHTTPResource("/v1/chat/completions")
    URI chatUrl;

    @Test
    void shouldStreamTheSameTokensAsTheWholeAnswerWithUsageAndCostInTheLastChunk() {
        // Proves a streamed chat completion carries the same text as a whole one, ends with usage+cost and [DONE].
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "2000.00");
        Market.funded(buyer, "5.00");
        Map<String, Object> request = Map.of("model", Market.MODEL, "max_tokens", 60, "temperature", 0,
                "messages", List.of(Map.of("role", "user", "content", "Once upon a time")),
                "provider", Market.only(endpointId));
        Response whole = as(buyer.key()).body(request).post("/v1/chat/completions");
        whole.then().statusCode(200);
        String wholeText = whole.path("choices[0].message.content");

        Response response = as(buyer.key()).body(withStream(request)).post("/v1/chat/completions");
        assertEquals(200, response.statusCode());
        assertTrue(response.contentType().startsWith("text/event-stream"), response.contentType());
        ServerSentEvents events = ServerSentEvents.parse(response.asString());
        assertTrue(events.endsWithDone(), "the stream ends with data: [DONE]");
        List<JsonPath> chunks = events.chunks();
        assertTrue(chunks.size() > 10, "tokens arrive as many chunks, not one");
        assertEquals("chat.completion.chunk", chunks.getFirst().getString("object"));
        assertEquals("assistant", chunks.getFirst().getString("choices[0].delta.role"));
        assertEquals(wholeText, events.text(0));
        String id = response.header("X-Generation-Id");
        chunks.forEach(chunk -> assertEquals(id, chunk.getString("id")));
        JsonPath last = chunks.getLast();
        assertEquals(0, last.getList("choices").size(), "the usage chunk has no choices");
        int completionTokens = last.getInt("usage.completion_tokens");
        assertEquals(60, completionTokens);
        assertEquals("length", chunks.get(chunks.size() - 2).getString("choices[0].finish_reason"));
        String cost = last.getString("usage.cost");
        assertEquals(0, usd(cost).compareTo(new java.math.BigDecimal(last.getInt("usage.prompt_tokens")).multiply(usd("0.001"))
                .add(new java.math.BigDecimal(completionTokens).multiply(usd("0.002")))), cost);

        Market.awaitSettled(buyer);
        as(buyer.key()).queryParam("id", id).get("/v1/generation").then().statusCode(200)
                .body("data.streamed", org.hamcrest.Matchers.equalTo(true))
                .body("data.cancelled", org.hamcrest.Matchers.equalTo(false))
                .body("data.cost", org.hamcrest.Matchers.equalTo(cost));
        Market.assertSettled(buyer, "5.00", provider, List.of(Market.served(whole), new Generation(id, usd(cost))));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldStreamLegacyCompletionsWithLogprobsPerToken() {
        // Proves /v1/completions streams text chunks and, with logprobs, each token's log-probability and alternatives.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.10", "0.20");
        Market.funded(buyer, "1.00");
        Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "Lily", "max_tokens", 12,
                        "temperature", 0, "logprobs", 2, "stream", true, "provider", Market.only(endpointId)))
                .post("/v1/completions");
        assertEquals(200, response.statusCode());
        ServerSentEvents events = ServerSentEvents.parse(response.asString());
        List<JsonPath> tokenChunks = events.chunks().stream()
                .filter(c -> c.getList("choices").size() == 1 && c.get("choices[0].logprobs") != null).toList();
        assertEquals(12, tokenChunks.size(), "one chunk with logprobs per completion token");
        for (JsonPath chunk : tokenChunks) {
            assertEquals("text_completion", chunk.getString("object"));
            float logprob = chunk.getFloat("choices[0].logprobs.token_logprobs[0]");
            assertTrue(logprob <= 0, "a log-probability is at most 0");
            assertEquals(2, chunk.getMap("choices[0].logprobs.top_logprobs[0]").size());
        }
        Market.assertSettled(buyer, "1.00", provider, List.of(Market.billed(response, events, "0.10", "0.20")));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldReturnChatLogprobsAndSeveralChoicesWhenAsked() {
        // Proves logprobs/top_logprobs and n > 1 on a whole chat answer, with every choice's tokens billed.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.10", "0.20");
        Market.funded(buyer, "1.00");
        Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "max_tokens", 10, "temperature", 0.9,
                        "seed", 3, "n", 2, "logprobs", true, "top_logprobs", 3,
                        "messages", List.of(Map.of("role", "user", "content", "Tom had a dog")),
                        "provider", Market.only(endpointId)))
                .post("/v1/chat/completions");
        response.then().statusCode(200);
        JsonPath answer = response.jsonPath();
        assertEquals(2, answer.getList("choices").size());
        int tokens = 0;
        for (int i = 0; i < 2; i++) {
            List<Map<String, Object>> content = answer.getList("choices[" + i + "].logprobs.content");
            assertFalse(content.isEmpty());
            assertEquals(3, ((List<?>) content.getFirst().get("top_logprobs")).size());
            tokens += content.size();
        }
        assertEquals(tokens, answer.getInt("usage.completion_tokens"), "both choices' tokens are billed");
        assertEquals(0, Market.expectedCost(response, "0.10", "0.20").compareTo(usd(answer.getString("usage.cost"))));
        Market.assertSettled(buyer, "1.00", provider, List.of(Market.served(response)));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldSendKeepAliveCommentsWhileAPacedEndpointIsSilent() {
        // Proves the stream sends comment lines while waiting for tokens. The provider is paced to 2 tokens/s:
        // a 500 ms silence always holds a tick of the 200 ms test keep-alive timer at which 200 ms have passed
        // since the last write (at 4 tokens/s that window was 50 ms wide, and a loaded machine could miss it).
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.10", "0.20", 2,
                Map.of("type", "reference", "max_tokens_per_second", 2));
        Market.funded(buyer, "1.00");
        Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 4,
                "stream", true, "provider", Market.only(endpointId))).post("/v1/completions");
        ServerSentEvents events = ServerSentEvents.parse(response.asString());
        assertTrue(events.comments() > 0, "keep-alive comments between paced tokens");
        assertTrue(events.endsWithDone());
        Market.assertSettled(buyer, "1.00", provider, List.of(Market.billed(response, events, "0.10", "0.20")));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldStopGeneratingAndBillOnlyProducedTokensWhenTheClientDisconnects() throws Exception {
        // Proves a client that goes away mid-stream cancels the generation and pays only for what was produced.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "1000.00", 4,
                Map.of("type", "reference", "max_tokens_per_second", 20));
        Market.funded(buyer, "5.00");
        String id = ServerSentEvents.readChunksThenLeave(chatUrl, buyer.key(),
                Map.of("model", Market.MODEL, "max_tokens", 200, "stream", true,
                        "messages", List.of(Map.of("role", "user", "content", "")),
                        "provider", Market.only(endpointId)), 5);

        Map<String, Object> generation = await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(200))
                .until(() -> {
                    Response r = as(buyer.key()).queryParam("id", id).get("/v1/generation");
                    return r.statusCode() == 200 ? r.jsonPath().<String, Object>getMap("data") : null;
                }, g -> g != null);
        assertEquals(true, generation.get("cancelled"));
        int completionTokens = (Integer) generation.get("completion_tokens");
        assertTrue(completionTokens >= 5 && completionTokens < 100,
                "stopped soon after the client left, not at max_tokens: " + completionTokens);
        Market.awaitSettled(buyer);
        Map<String, String> balance = Market.balance(buyer);
        assertEquals(0, usd("5.00").subtract(usd((String) generation.get("cost"))).compareTo(usd(balance.get("posted"))),
                "billed exactly the produced tokens: " + balance);
        Market.assertLedgerBalanced();
    }

    private static Map<String, Object> withStream(Map<String, Object> request) {
        Map<String, Object> copy = new java.util.HashMap<>(request);
        copy.put("stream", true);
        return copy;
    }
}
