package dev.tokenmarket.ledger;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.DayRange;
import dev.tokenmarket.platform.Money;
import io.agroal.api.AgroalDataSource;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Provider: what its payable account was credited for usage per UTC day, what reversals took back and what
 * was paid out, from the posted journal entries (the ledger, not metering, says what a provider earned).
 */
@Path("/api/ledger/earnings")
@Produces(MediaType.APPLICATION_JSON)
public class EarningsResource {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LedgerAccounts accounts;

    @Inject
    CurrentCaller currentCaller;

    /** One day's postings to the payable account; credits and debits in nano-USD, both non-negative. */
    private static final class Day {
        long usageCreditsNanoUsd;
        long usageEntries;
        long reversedNanoUsd;
        long paidOutNanoUsd;
    }

    @GET
    public Map<String, Object> earnings(@QueryParam("from") String from, @QueryParam("to") String to) {
        Caller caller = currentCaller.get();
        caller.require(Role.PROVIDER);
        DayRange days = DayRange.parse(from, to);
        long payable = accounts.payableOf(caller.orgId());
        Map<LocalDate, Day> byDay = new TreeMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select (e.created_at at time zone 'UTC')::date, e.code, count(*),
                            coalesce(sum(-p.amount_nano_usd) filter (where p.amount_nano_usd < 0), 0),
                            coalesce(sum(p.amount_nano_usd) filter (where p.amount_nano_usd > 0), 0)
                     from postings p join journal_entries e on e.id = p.entry_id
                     where p.account_id = ? and e.created_at >= ? and e.created_at < ?
                     group by 1, 2""")) {
            ps.setLong(1, payable);
            ps.setTimestamp(2, Timestamp.from(days.start()));
            ps.setTimestamp(3, Timestamp.from(days.end()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Day day = byDay.computeIfAbsent(rs.getDate(1).toLocalDate(), d -> new Day());
                    long credits = rs.getLong(4);
                    long debits = rs.getLong(5);
                    switch (rs.getString(2)) {
                        case "usage" -> {
                            day.usageCreditsNanoUsd = Math.addExact(day.usageCreditsNanoUsd, credits - debits);
                            day.usageEntries += rs.getLong(3);
                        }
                        case "payout" -> day.paidOutNanoUsd = Math.addExact(day.paidOutNanoUsd, debits - credits);
                        // Reversals and adjustments: what they took back from the provider, net.
                        default -> day.reversedNanoUsd = Math.addExact(day.reversedNanoUsd, debits - credits);
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the earnings of " + caller.orgId(), e);
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        byDay.forEach((date, day) -> {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("day", date.toString());
            row.put("earned", Money.formatUsd(day.usageCreditsNanoUsd));
            row.put("usage_entries", day.usageEntries);
            row.put("reversed", Money.formatUsd(day.reversedNanoUsd));
            row.put("paid_out", Money.formatUsd(day.paidOutNanoUsd));
            rows.add(row);
        });
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("org_id", caller.orgId());
        body.put("account_id", payable);
        body.put("from", days.from().toString());
        body.put("to", days.to().toString());
        body.put("data", rows);
        return body;
    }
}
