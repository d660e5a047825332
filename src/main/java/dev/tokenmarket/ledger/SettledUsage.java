package dev.tokenmarket.ledger;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;

/**
 * The ledger's answer to "which of these generations were sold, and for how much": a generation is settled
 * when its usage entry (the entry's id is the generation id) is posted and not reversed; what it sold for is
 * what the entry debited, the buyer's cost.
 */
@ApplicationScoped
public class SettledUsage {

    /** Ids asked about at a time. */
    public static final int IDS_PER_CALL_MAX = 10_000;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ConsumerLag consumerLag;

    /** Settled generations among {@code generationIds}, each with the cost its entry debited. */
    public Map<UUID, Long> settledCosts(Collection<UUID> generationIds) {
        if (generationIds.size() > IDS_PER_CALL_MAX) {
            throw new IllegalArgumentException("at most " + IDS_PER_CALL_MAX + " ids a call, got " + generationIds.size());
        }
        Map<UUID, Long> settled = HashMap.newHashMap(generationIds.size());
        if (generationIds.isEmpty()) {
            return settled;
        }
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            c.setAutoCommit(false);
            try {
                // Each id is found by key among millions of entries; the planner would otherwise scan whole tables.
                try (PreparedStatement ps = c.prepareStatement("set local enable_seqscan = off")) {
                    ps.execute();
                }
                // "= any" of an array: PostgreSQL sorts the ids and walks the index in order.
                try (PreparedStatement ps = c.prepareStatement("""
                        select e.id, (select coalesce(sum(p.amount_nano_usd) filter (where p.amount_nano_usd > 0), 0)
                                      from postings p where p.entry_id = e.id)
                        from journal_entries e
                        where e.id = any(?) and e.code = 'usage'
                          and not exists (select 1 from journal_entries r where r.reverses_entry_id = e.id)""")) {
                    ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(-1);
                    ps.setArray(1, c.createArrayOf("uuid", generationIds.toArray()));
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            settled.put(rs.getObject(1, UUID.class), rs.getLong(2));
                        }
                    }
                }
            } finally {
                c.rollback();
                c.setAutoCommit(autoCommit);
            }
            return settled;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read settled usage", e);
        }
    }

    /**
     * True when the ledger's consumers have settled everything on the usage topic (lag zero); false when they
     * lag or Kafka does not answer, since then nothing is known to be settled.
     */
    public boolean consumersCaughtUp() {
        ConsumerLag.Lag lag = consumerLag.measure();
        return lag.unavailableReason() == null && lag.total() == 0;
    }
}
