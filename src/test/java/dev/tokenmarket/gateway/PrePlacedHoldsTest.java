package dev.tokenmarket.gateway;

import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.completion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A busy wallet's requests take holds the gateway placed ahead of them (PrePlacedHolds): they must pay exactly
 * what they cost, never be refused because of those holds, and the holds must come back when the wallet goes
 * quiet.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class PrePlacedHoldsTest {

    private static final String PLACED_AHEAD = "placed ahead%";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LedgerAccounts accounts;

    /**
     * Requests in a row, well within a second, until the gateway sees the wallet as busy and has a hold placed
     * ahead of its next request; answers the requests' prompt tokens.
     */
    private int busyUntilHoldsArePlacedAhead(Org buyer, String endpointId, long wallet) throws SQLException {
        int promptTokens = 0;
        for (int i = 0; i < 200; i++) {
            promptTokens = as(buyer.key()).body(completion(endpointId, 1)).post("/v1/completions")
                    .then().statusCode(200).extract().path("usage.prompt_tokens");
            if (i >= 25 && placedAhead(wallet) > 0) {
                return promptTokens;
            }
        }
        throw new AssertionError("200 requests in a row and still no hold placed ahead for the wallet");
    }

    private long placedAhead(long wallet) throws SQLException {
        return single("select coalesce(sum(amount_nano_usd), 0) from holds where account_id = ? and reference like ? and status = 'pending'",
                wallet, PLACED_AHEAD);
    }

    private void assertPaidTheSumOfItsRequestsCosts(Org buyer, String depositedUsd) throws SQLException {
        long costs = single("select sum(cost_nano_usd) from generations where buyer_org_id = ?", UUID.fromString(buyer.id()));
        assertEquals(0, Market.paidSince(buyer, depositedUsd).compareTo(BigDecimal.valueOf(costs, 9)),
                "the wallet paid the sum of its requests' costs");
    }

    /** The provider earned each generation's cost less the fee, as the test computes it from the generations' costs. */
    private void assertProviderEarnedItsShares(Org provider, Org buyer) throws SQLException {
        BigDecimal shares = BigDecimal.ZERO;
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select cost_nano_usd from generations where buyer_org_id = ?")) {
            ps.setObject(1, UUID.fromString(buyer.id()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    shares = shares.add(Market.providerShare(BigDecimal.valueOf(rs.getLong(1), 9)));
                }
            }
        }
        String earned = as(provider.key()).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, shares.compareTo(Market.usd(earned)), "the provider earned its shares: " + earned);
    }

    private long single(String sql, Object... parameters) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < parameters.length; i++) {
                ps.setObject(i + 1, parameters[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void shouldServeABusyWalletOnHoldsPlacedAheadBillExactlyAndGiveTheRestBackWhenItGoesQuiet() throws SQLException {
        // Proves requests served on pre-placed holds pay their own cost to the nano-USD and the spare holds are voided.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1.00", "2.00");
        Market.funded(buyer, "10.00");
        long wallet = accounts.walletOf(UUID.fromString(buyer.id()));

        busyUntilHoldsArePlacedAhead(buyer, endpointId, wallet);
        for (int i = 0; i < 5; i++) {
            as(buyer.key()).body(completion(endpointId, 1)).post("/v1/completions").then().statusCode(200);
        }

        UUID buyerId = UUID.fromString(buyer.id());
        long servedAhead = single("""
                select count(*) from generations g join holds h on h.id = g.hold_id
                where g.buyer_org_id = ? and h.reference like ?""", buyerId, PLACED_AHEAD);
        assertTrue(servedAhead > 0, "a busy wallet's requests find their holds placed ahead");
        Market.awaitSettled(buyer);
        // Each request's hold, placed ahead or not, captured exactly its cost.
        assertEquals(0, single("""
                select count(*) from generations g join hold_states h on h.id = g.hold_id
                where g.buyer_org_id = ? and (h.status <> 'captured' or h.captured_nano_usd <> g.cost_nano_usd)""", buyerId));
        // The spare ones went back once the wallet was quiet; none is left open.
        assertTrue(single("select count(*) from holds where account_id = ? and reference like ? and status = 'voided'",
                wallet, PLACED_AHEAD) > 0, "the holds placed ahead and not needed are voided");
        assertEquals(0, single("select count(*) from hold_states where account_id = ? and status in ('pending', 'settling')", wallet));
        assertPaidTheSumOfItsRequestsCosts(buyer, "10.00");
        assertProviderEarnedItsShares(provider, buyer);
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldGiveBackHoldsPlacedAheadRatherThanRefuseARequestTheWalletCanPay() throws Exception {
        // Proves a request needing more than what is available besides the pre-placed holds is served, not refused with 402.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        // 0.001 USD a token, so a token of max_tokens is 1,000,000 nano-USD of hold.
        String endpointId = Market.endpoint(provider, "1000.00", "1000.00", 100, 200, 8);
        Market.funded(buyer, "0.50");
        long wallet = accounts.walletOf(UUID.fromString(buyer.id()));

        int promptTokens = busyUntilHoldsArePlacedAhead(buyer, endpointId, wallet);
        long available = single("""
                select credits_posted_nano_usd - debits_posted_nano_usd - held_nano_usd from ledger_accounts where id = ?""", wallet);
        long placedAhead = placedAhead(wallet);
        // The largest request the wallet can pay once the holds placed ahead are back: more than is available beside them.
        int maxTokens = (int) ((available + placedAhead) / 1_000_000) - promptTokens;
        assertTrue((promptTokens + maxTokens) * 1_000_000L > available, "the request needs the holds placed ahead back");

        as(buyer.key()).body(completion(endpointId, maxTokens)).post("/v1/completions").then().statusCode(200);

        Market.awaitSettled(buyer);
        assertPaidTheSumOfItsRequestsCosts(buyer, "0.50");
        Map<String, String> balance = Market.balance(buyer);
        assertEquals(balance.get("posted"), balance.get("available"), "the holds placed ahead are all back: " + balance);
        assertProviderEarnedItsShares(provider, buyer);
        Market.assertLedgerBalanced();
    }
}
