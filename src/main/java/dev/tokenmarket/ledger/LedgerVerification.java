package dev.tokenmarket.ledger;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/** Checks the ledger against itself: stored balances against postings and open holds, entries against postings. */
@ApplicationScoped
public class LedgerVerification {

    @Inject
    AgroalDataSource dataSource;

    /**
     * Entries that have none of their postings, oldest first, at most {@code limit}. The database refuses
     * postings that do not make complete, balanced entries, but it cannot refuse an entry whose postings never
     * come (that would take a check per entry at every commit, on the settlement's path); such an entry moves
     * no money, and the verification lists it. There must be none.
     */
    public List<UUID> entriesWithoutPostings(int limit) {
        try (Connection c = dataSource.getConnection()) {
            return entriesWithoutPostings(c, limit);
        } catch (SQLException e) {
            throw new IllegalStateException("could not verify the ledger's entries", e);
        }
    }

    static List<UUID> entriesWithoutPostings(Connection c, int limit) throws SQLException {
        List<UUID> result = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select e.id from journal_entries e
                where not exists (select 1 from postings p where p.entry_id = e.id)
                order by e.created_at, e.id
                limit ?""")) {
            ps.setInt(1, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(rs.getObject(1, UUID.class));
                }
            }
        }
        return result;
    }

    public record Discrepancy(long accountId, String code, long storedDebitsNanoUsd, long postedDebitsNanoUsd,
                              long storedCreditsNanoUsd, long postedCreditsNanoUsd, long storedHeldNanoUsd,
                              long openHoldsNanoUsd) {
    }

    /**
     * Recomputes every account's debits and credits from its postings, and its held amount from the open
     * holds, and lists every account where the stored balance differs. There must be none.
     */
    public List<Discrepancy> verify() {
        List<Discrepancy> result = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     with p as (select account_id,
                                       coalesce(sum(amount_nano_usd) filter (where amount_nano_usd > 0), 0) as debits,
                                       coalesce(-sum(amount_nano_usd) filter (where amount_nano_usd < 0), 0) as credits
                                from postings group by account_id),
                          h as (select account_id, sum(held_nano_usd) as held from hold_states
                                where status in ('pending', 'settling', 'resting') group by account_id)
                     select a.id, a.code, a.debits_posted_nano_usd, coalesce(p.debits, 0),
                            a.credits_posted_nano_usd, coalesce(p.credits, 0), a.held_nano_usd, coalesce(h.held, 0)
                     from ledger_accounts a
                     left join p on p.account_id = a.id
                     left join h on h.account_id = a.id
                     where a.debits_posted_nano_usd <> coalesce(p.debits, 0)
                        or a.credits_posted_nano_usd <> coalesce(p.credits, 0)
                        or a.held_nano_usd <> coalesce(h.held, 0)
                     order by a.id""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                result.add(new Discrepancy(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4),
                        rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getLong(8)));
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not verify the ledger", e);
        }
    }
}
