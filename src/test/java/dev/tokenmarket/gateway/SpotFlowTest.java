package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.ExtractableResponse;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.greaterThan;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.emptyString;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class SpotFlowTest {

    /** Reads the golden text from the model folder's README, the single source of truth for it. */
    static String goldenText() throws IOException {
        String readme = Files.readString(Path.of("../shared/models/README.md"));
        int section = readme.indexOf("## Golden output");
        int start = readme.indexOf("```\n", section) + 4;
        int end = readme.indexOf("\n```", start);
        return readme.substring(start, end);
    }

    @Test
    void shouldServeTheGoldenTextAndSettleItsCostInOneBalancedEntry() throws IOException {
        // Proves the whole first slice: org set-up, endpoint listing, deposit, real tokens, Kafka settlement, balances.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1000.00", "2000.00");
        Market.funded(buyer, "5.00");

        ExtractableResponse<Response> response = as(buyer.key())
                .body(Map.of("model", Market.MODEL, "prompt", "", "temperature", 0, "max_tokens", 256,
                        "provider", Map.of("only", List.of(endpointId))))
                .post("/v1/completions").then().statusCode(200)
                .body("object", equalTo("text_completion"))
                .body("id", startsWith("gen-"))
                .extract();
        assertEquals(goldenText(), response.path("choices[0].text"));
        assertEquals(response.path("id"), response.header("X-Generation-Id"));
        int promptTokens = response.path("usage.prompt_tokens");
        int completionTokens = response.path("usage.completion_tokens");
        assertEquals(1, promptTokens, "the empty prompt is BOS alone");
        assertEquals(256, completionTokens, "llama2.c samples one token per position, BOS included");
        // 1 x 1000 USD/M + 256 x 2000 USD/M = 0.001 + 0.512 = 0.513 USD
        assertEquals("0.513", response.path("usage.cost"));

        Market.awaitSettled(buyer);
        Map<String, String> balance = Market.balance(buyer);
        assertEquals(0, usd("4.487").compareTo(usd(balance.get("posted"))), balance.toString());
        assertEquals(0, usd("4.487").compareTo(usd(balance.get("available"))), balance.toString());
        // The provider is credited the cost less the 5% platform fee: 0.513 - 0.02565.
        Map<String, Object> providerBalance = as(provider.key()).get("/api/balance").then().statusCode(200)
                .extract().jsonPath().getMap("payable");
        assertEquals(0, usd("0.48735").compareTo(usd((String) providerBalance.get("posted"))));

        as(buyer.key()).queryParam("id", (String) response.path("id")).get("/v1/generation").then().statusCode(200)
                .body("data.cost", equalTo("0.513"))
                .body("data.completion_tokens", equalTo(256))
                .body("data.finish_reason", equalTo("length"));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldAnswerChatCompletionsWithRealTokensFromTheReferenceEngine() {
        // Proves the chat endpoint runs the reference engine and bills what it produced.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.50", "1.50");
        Market.funded(buyer, "1.00");

        Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "max_tokens", 40, "temperature", 0.8,
                        "seed", 7, "messages", List.of(Map.of("role", "user", "content", "Once upon a time")),
                        "provider", Market.only(endpointId)))
                .post("/v1/chat/completions");
        response.then().statusCode(200)
                .body("object", equalTo("chat.completion"))
                .body("choices[0].message.role", equalTo("assistant"))
                .body("choices[0].message.content", not(emptyString()))
                .body("usage.completion_tokens", greaterThan(0))
                .body("usage.cost", not(equalTo("0.00")));
        assertEquals(0, Market.expectedCost(response, "0.50", "1.50").compareTo(usd(response.path("usage.cost"))),
                response.asString());
        Market.assertSettled(buyer, "1.00", provider, List.of(Market.served(response)));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldApplyADepositOnceWhenItsIdempotencyKeyIsReused() {
        // Proves a retried deposit is applied once and a reused key with other content is refused.
        Org buyer = Market.org("buyer", "buyer");
        String key = UUID.randomUUID().toString();
        String first = Market.deposit(buyer, "2.50", key).then().statusCode(201).extract().path("entry_id");
        Market.deposit(buyer, "2.50", key).then().statusCode(200)
                .body("entry_id", equalTo(first))
                .body("replayed", equalTo(true));
        Market.deposit(buyer, "9.99", key).then().statusCode(409)
                .body("code", equalTo("idempotency_conflict"));
        assertEquals("2.50", Market.balance(buyer).get("posted"));
        Market.assertLedgerBalanced();
    }
}
