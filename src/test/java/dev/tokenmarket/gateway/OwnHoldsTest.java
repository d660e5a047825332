package dev.tokenmarket.gateway;

import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.arc.ClientProxy;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.completion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * The holding strategy is configuration: with {@code tokenmarket.gateway.pre-placed-holds.enabled=false} every
 * request places a hold of its own, however busy its wallet.
 */
@QuarkusTest
@TestProfile(OwnHoldsTest.PrePlacedHoldsOff.class)
@WithTestResource(TokenmarketInfrastructure.class)
class OwnHoldsTest {

    /**
     * Requests sent four at a time (the endpoint takes eight): with pre-placed holds on, 20 of one hold size
     * within a second make a wallet busy, and its later requests may find holds placed ahead.
     */
    private static final int REQUESTS = 32;
    private static final int CONCURRENCY = 4;

    public static class PrePlacedHoldsOff implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("tokenmarket.gateway.pre-placed-holds.enabled", "false");
        }
    }

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LedgerAccounts accounts;

    @Inject
    Holding holding;

    @Test
    void shouldGiveEveryRequestOfABusyWalletAHoldOfItsOwnWhenPrePlacedHoldsAreOff() throws Exception {
        // Proves that switching pre-placed holds off leaves no hold placed ahead, each request on its own hold, billed exactly.
        assertInstanceOf(OwnHolds.class, ClientProxy.unwrap(holding), "the hold stage places a hold per request");
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1.00", "2.00");
        Market.funded(buyer, "10.00");
        long wallet = accounts.walletOf(UUID.fromString(buyer.id()));

        List<Future<Generation>> requests = new ArrayList<>();
        try (ExecutorService clients = Executors.newFixedThreadPool(CONCURRENCY)) {
            for (int i = 0; i < REQUESTS; i++) {
                requests.add(clients.submit(() -> Market.billed(
                        as(buyer.key()).body(completion(endpointId, 1)).post("/v1/completions"), "1.00", "2.00")));
            }
        }
        List<Generation> served = new ArrayList<>();
        for (Future<Generation> r : requests) {
            served.add(r.get());
        }

        assertEquals(0, count("select count(*) from holds where account_id = ? and reference like 'placed ahead%'", wallet),
                "no hold placed ahead of the wallet's requests");
        assertEquals(REQUESTS, count("""
                select count(*) from generations g join holds h on h.id = g.hold_id
                where g.buyer_org_id = ? and h.reference = 'generation gen-' || g.id::text""", UUID.fromString(buyer.id())),
                "each request served on the hold it placed for itself");
        Market.assertSettled(buyer, "10.00", provider, served);
        Market.assertLedgerBalanced();
    }

    private long count(String sql, Object parameter) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, parameter);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
