package dev.tokenmarket.forwards;

import dev.tokenmarket.forwards.book.FastOrderBook;
import dev.tokenmarket.forwards.book.OrderBook;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;

import static dev.tokenmarket.forwards.Forwards.order;
import static dev.tokenmarket.forwards.Forwards.place;
import static dev.tokenmarket.forwards.Forwards.placed;
import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The book is durable and has one owner: rebuilt from its journal, and fenced against a process that lost its lease. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ForwardJournalTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Instruments instruments;

    @Inject
    ForwardBooks books;

    @Inject
    Leases leases;

    long count(String sql, long instrumentId) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, instrumentId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    void expireLease(long instrumentId) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("update forward_leases set expires_at = now() - interval '1 second' where instrument_id = ?")) {
            ps.setLong(1, instrumentId);
            ps.executeUpdate();
        }
    }

    @Test
    void shouldRebuildTheSameBookFromTheJournalWhenTheBookChangesOwner() {
        // Proves the journal alone rebuilds the book: the same resting orders in the same priority with the
        // same open quantities and positions, and matching goes on from there as if nothing happened.
        String symbol = Forwards.hourlyInstrument(Forwards.product());
        Instrument instrument = instruments.bySymbol(symbol);
        Org a = Forwards.funded("fwd journal a", "trader");
        Org b = Forwards.funded("fwd journal b", "trader");
        placed(a, order(symbol, "sell", 5, "3.00"));
        String second = placed(b, order(symbol, "sell", 5, "3.00"));
        placed(b, order(symbol, "buy", 2, "3.00"));
        String amended = placed(a, order(symbol, "sell", 4, "3.10"));
        as(a.key()).body(java.util.Map.of("quantity", 2)).patch("/api/forwards/orders/" + amended).then().statusCode(200);
        placed(a, order(symbol, "buy", 1, "2.00"));
        OrderBook before = books.running(instrument.id()).book();
        assertInstanceOf(FastOrderBook.class, before, "the book tokenmarket.forwards.book selects by default");
        List<OrderBook.RestingOrder> resting = before.resting();

        books.release(instrument.id());
        OrderBook after = books.engineFor(instrument).book();
        assertEquals(resting, after.resting(), "the same orders in the same priority");
        assertEquals(before.depth(dev.tokenmarket.forwards.book.Side.SELL, 20), after.depth(dev.tokenmarket.forwards.book.Side.SELL, 20));

        // a's first ask (3 left of 5) comes first; b's own ask behind it stops b's buy (self-trade prevention).
        place(b, order(symbol, "buy", 4, "3.00")).then().statusCode(201).body("fills", org.hamcrest.Matchers.hasSize(1))
                .body("fills[0].quantity", equalTo(3)).body("reason", equalTo("self_trade"));
        as(b.key()).get("/api/forwards/orders/" + second).then().body("open_quantity", equalTo(5));
    }

    @Test
    void shouldRefuseTheJournalWritesOfAProcessThatLostItsLease() throws SQLException {
        // Proves fencing: once another process took the lease, this process's next write is refused by the
        // database (never journaled, never acknowledged), and it no longer matches the instrument.
        String symbol = Forwards.hourlyInstrument(Forwards.product());
        Instrument instrument = instruments.bySymbol(symbol);
        Org a = Forwards.funded("fwd fenced", "trader");
        placed(a, order(symbol, "buy", 1, "2.00"));
        long lines = count("select count(*) from forward_journal where instrument_id = ?", instrument.id());
        expireLease(instrument.id());
        long thief = leases.acquire(instrument.id(), "another-process", Duration.ofMinutes(5));
        assertTrue(thief > 1, "the new owner's token is higher: " + thief);

        place(a, order(symbol, "buy", 1, "2.01")).then().statusCode(503).body("code", equalTo("instrument_owned_elsewhere"));
        place(a, order(symbol, "buy", 1, "2.02")).then().statusCode(503).body("code", equalTo("instrument_owned_elsewhere"));
        assertEquals(lines, count("select count(*) from forward_journal where instrument_id = ?", instrument.id()));
        assertEquals(1, count("select count(*) from forward_orders where instrument_id = ?", instrument.id()), "nothing acknowledged");
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("insert into forward_journal (instrument_id, seq, fencing_token, command) values (?, 1000, ?, 'S')")) {
            ps.setLong(1, instrument.id());
            ps.setLong(2, thief - 1);
            SQLException refused = assertThrows(SQLException.class, ps::executeUpdate);
            assertTrue(refused.getMessage().contains("stale fencing token"), refused.getMessage());
        }

        expireLease(instrument.id());
        placed(a, order(symbol, "buy", 1, "2.03"));
        assertEquals(lines + 1, count("select count(*) from forward_journal where instrument_id = ?", instrument.id()));
        assertEquals(thief + 1, count("select token from forward_leases where instrument_id = ?", instrument.id()));
    }
}
