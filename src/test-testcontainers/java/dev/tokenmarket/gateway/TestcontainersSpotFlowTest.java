package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TestcontainersInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;
import org.testcontainers.junit.jupiter.Testcontainers;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The spot flow against container-managed PostgreSQL and Kafka; skipped where no Docker engine runs. */
@Testcontainers(disabledWithoutDocker = true)
@QuarkusTest
@WithTestResource(TestcontainersInfrastructure.class)
class TestcontainersSpotFlowTest {

    @Test
    void shouldServeTheGoldenTextAndSettleItOnContainerInfrastructure() throws IOException {
        // Proves the slice runs unchanged on externally managed PostgreSQL and Kafka.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1.00", "2.00");
        Market.funded(buyer, "1.00");
        String text = as(buyer.key())
                .body(Map.of("model", Market.MODEL, "prompt", "", "temperature", 0, "max_tokens", 256,
                        "provider", Map.of("only", List.of(endpointId))))
                .post("/v1/completions").then().statusCode(200).extract().path("choices[0].text");
        assertEquals(SpotFlowTest.goldenText(), text);
        Market.awaitSettled(buyer);
        Market.assertLedgerBalanced();
    }
}
