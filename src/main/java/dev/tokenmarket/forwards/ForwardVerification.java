package dev.tokenmarket.forwards;

import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import io.agroal.api.AgroalDataSource;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Finance: the forward market's invariants, per instrument with trades. From the trades alone: longs equal
 * shorts. From the ledger against the book's owner (when this process owns it): the proceeds held on
 * escrow equal the open shorts' entry notional, and each open order holds exactly what it needs.
 */
@Path("/api/forwards/verification")
@Produces(MediaType.APPLICATION_JSON)
public class ForwardVerification {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ForwardBooks books;

    @Inject
    CurrentCaller currentCaller;

    @GET
    public Map<String, Object> verify() throws SQLException {
        currentCaller.get().require(Role.FINANCE);
        List<Map<String, Object>> instruments = new ArrayList<>();
        boolean consistent = true;
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select i.id, i.symbol,
                            (select coalesce(sum(greatest(net, 0)), 0) from (select sum(q) as net from (
                                 select buyer_org_id as org, quantity as q from forward_trades where instrument_id = i.id
                                 union all select seller_org_id, -quantity from forward_trades where instrument_id = i.id) t group by org) p),
                            (select coalesce(sum(greatest(-net, 0)), 0) from (select sum(q) as net from (
                                 select buyer_org_id as org, quantity as q from forward_trades where instrument_id = i.id
                                 union all select seller_org_id, -quantity from forward_trades where instrument_id = i.id) t group by org) p),
                            (select coalesce(sum(h.held_nano_usd), 0) from hold_states h
                              where h.reference like 'fwd-proceeds:%' and (split_part(h.reference, ':', 2)::bigint >> 40) = i.id)
                     from forward_instruments i where exists (select 1 from forward_trades t where t.instrument_id = i.id)
                     order by i.id""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                long longs = rs.getLong(3);
                long shorts = rs.getLong(4);
                long heldProceeds = rs.getLong(5);
                row.put("instrument", rs.getString(2));
                row.put("longs", longs);
                row.put("shorts", shorts);
                row.put("held_proceeds_nano_usd", heldProceeds);
                boolean ok = longs == shorts;
                BookEngine engine = books.running(rs.getLong(1));
                if (engine != null) {
                    long[] open = engine.clearing().openShorts();
                    row.put("open_short_entry_notional_nano_usd", open[1]);
                    ok &= open[0] == shorts && open[1] == heldProceeds && ordersHoldWhatTheyNeed(c, engine);
                }
                row.put("consistent", ok);
                consistent &= ok;
                instruments.add(row);
            }
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("consistent", consistent);
        body.put("instruments", instruments);
        return body;
    }

    private static boolean ordersHoldWhatTheyNeed(Connection c, BookEngine engine) throws SQLException {
        Map<Long, Long> held = engine.clearing().heldByOrder();
        try (PreparedStatement ps = c.prepareStatement("""
                select coalesce(sum(held_nano_usd), 0) from hold_states where reference = ?""")) {
            for (Map.Entry<Long, Long> order : held.entrySet()) {
                ps.setString(1, "fwd-order:" + order.getKey());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (rs.getLong(1) != order.getValue()) {
                        return false;
                    }
                }
            }
        }
        return true;
    }
}
