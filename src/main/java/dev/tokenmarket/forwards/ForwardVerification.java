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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Finance: the forward market's invariants, per instrument with trades. From the trades alone: longs equal
 * shorts. For the books this process owns, from the ledger (through its holds API, on the book's own thread
 * between batches): the open shorts are the shorts of the trades, the proceeds held are their entry notional,
 * each bond is held, and each open order holds exactly what its open quantity needs.
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
    public Map<String, Object> verify() throws Exception {
        currentCaller.get().require(Role.FINANCE);
        List<Map<String, Object>> instruments = new ArrayList<>();
        boolean consistent = true;
        for (Map<String, Object> row : longsAndShorts()) {
            long longs = (Long) row.get("longs");
            long shorts = (Long) row.get("shorts");
            boolean ok = longs == shorts;
            BookEngine engine = books.running((Long) row.remove("instrument_id"));
            if (engine != null) {
                Clearing.Check check = (Clearing.Check) engine.submit(() -> new BookEngine.CheckRequest(new CompletableFuture<>()))
                        .get(30, TimeUnit.SECONDS);
                row.put("open_short_entry_notional_nano_usd", check.openShortEntryNotionalNanoUsd());
                row.put("held_proceeds_nano_usd", check.heldProceedsNanoUsd());
                row.put("problem", check.problem());
                ok &= check.openShortUnits() == shorts && check.heldProceedsNanoUsd() == check.openShortEntryNotionalNanoUsd()
                        && check.problem() == null;
            }
            row.put("consistent", ok);
            consistent &= ok;
            instruments.add(row);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("consistent", consistent);
        body.put("instruments", instruments);
        return body;
    }

    private List<Map<String, Object>> longsAndShorts() throws SQLException {
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select i.id, i.symbol, coalesce(sum(greatest(p.net, 0)), 0), coalesce(sum(greatest(-p.net, 0)), 0)
                     from forward_instruments i
                     join (select instrument_id, org, sum(q) as net from (
                               select instrument_id, buyer_org_id as org, quantity as q from forward_trades
                               union all select instrument_id, seller_org_id, -quantity from forward_trades) t
                           group by instrument_id, org) p on p.instrument_id = i.id
                     group by i.id, i.symbol order by i.id""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("instrument_id", rs.getLong(1));
                row.put("instrument", rs.getString(2));
                row.put("longs", rs.getLong(3));
                row.put("shorts", rs.getLong(4));
                rows.add(row);
            }
        }
        return rows;
    }
}
