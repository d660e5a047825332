package dev.tokenmarket.gateway;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TestUpstream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static dev.tokenmarket.testing.Market.as;

/**
 * What the tests of OpenAI-compatible upstreams share: a real local upstream, a provider and a funded
 * buyer per test, and the endpoints a test listed, taken off the shared catalog again afterwards.
 */
abstract class UpstreamMarketTest {

    TestUpstream upstream;
    Org provider;
    Org buyer;
    /** Ids of the endpoints this test listed; each is deactivated after the test. */
    final List<String> listed = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        upstream = new TestUpstream();
        provider = Market.org("provider", "provider");
        buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "5.00");
    }

    @AfterEach
    void stop() {
        // The catalog is shared with other test classes: take these endpoints off the market again.
        listed.forEach(id -> as(provider.key()).delete("/api/endpoints/" + id));
        upstream.close();
    }
}
