package dev.tokenmarket.gateway;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

import static dev.tokenmarket.testing.Market.usd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The official OpenAI Java SDK, unchanged, against the gateway: what a buyer's existing code does. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class OpenAiSdkTest {

    @TestHTTPResource("/v1")
    URI baseUrl;

    private OpenAIClient client(Org buyer) {
        return OpenAIOkHttpClient.builder().apiKey(buyer.key()).baseUrl(baseUrl.toString()).maxRetries(0).build();
    }

    private static ChatCompletionCreateParams params(String endpointId, long maxTokens) {
        return ChatCompletionCreateParams.builder()
                .model(Market.MODEL)
                .addUserMessage("Once upon a time")
                .maxCompletionTokens(maxTokens)
                .temperature(0.0)
                .putAdditionalBodyProperty("provider", JsonValue.from(Market.only(endpointId)))
                .build();
    }

    @Test
    void shouldRoundTripWholeAndStreamedChatCompletionsThroughTheOfficialSdk() {
        // Proves the SDK parses our answers: same text whole and streamed, usage with cost, generation id as id.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.50", "1.50");
        Market.funded(buyer, "1.00");
        OpenAIClient client = client(buyer);

        ChatCompletion whole = client.chat().completions().create(params(endpointId, 30));
        String text = whole.choices().getFirst().message().content().orElseThrow();
        assertFalse(text.isBlank());
        assertTrue(whole.id().startsWith("gen-"));
        assertEquals(30, whole.usage().orElseThrow().completionTokens());
        String cost = whole.usage().orElseThrow()._additionalProperties().get("cost").asStringOrThrow();
        assertTrue(usd(cost).signum() > 0, cost);
        java.math.BigDecimal expected = Market.expectedCost((int) whole.usage().orElseThrow().promptTokens(), 30, "0.50", "1.50");
        assertEquals(0, expected.compareTo(usd(cost)), "its tokens at the endpoint's price: " + cost);

        StringBuilder streamed = new StringBuilder();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(params(endpointId, 30))) {
            stream.stream().forEach(chunk -> {
                chunks.add(chunk);
                chunk.choices().forEach(choice -> choice.delta().content().ifPresent(streamed::append));
            });
        }
        assertEquals(text, streamed.toString(), "temperature 0: the stream carries the same text");
        ChatCompletionChunk last = chunks.getLast();
        assertEquals(30, last.usage().orElseThrow().completionTokens());
        assertEquals(cost, last.usage().orElseThrow()._additionalProperties().get("cost").asStringOrThrow());
        Market.assertSettled(buyer, "1.00", provider,
                List.of(new Generation(whole.id(), expected), new Generation(last.id(), expected)));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldSurfaceAnInsufficientBalanceAsAnSdkErrorWithOurCode() {
        // Proves the SDK reads our error shape: an unfunded buyer gets status 402 and code insufficient_balance.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.50", "1.50");
        OpenAIServiceException error = assertThrows(OpenAIServiceException.class,
                () -> client(buyer).chat().completions().create(params(endpointId, 30)));
        assertEquals(402, error.statusCode());
        assertEquals("insufficient_balance", error.code().orElseThrow());
        Market.assertSettled(buyer, "0", provider, List.of());
        Market.assertLedgerBalanced();
    }
}
