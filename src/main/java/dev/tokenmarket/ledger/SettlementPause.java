package dev.tokenmarket.ledger;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.UUID;

/**
 * Whether settlement of the usage feed is paused, for every replica: one row in PostgreSQL, read by the
 * ledger consumers at most once a second. Pausing stops settlement between batches (the batch in flight
 * commits); the consumers keep their partitions and offsets, so resuming goes on where they stopped.
 */
@ApplicationScoped
public class SettlementPause {

    private static final Logger LOG = Logger.getLogger(SettlementPause.class);
    /** How stale a consumer's view of the switch may be; a pause applies on every replica within this. */
    static final long REFRESH_NANOS = 1_000_000_000L;

    @Inject
    AgroalDataSource dataSource;

    public record State(boolean paused, String reason, Instant changedAt, UUID changedBy) {
    }

    private record Cached(boolean paused, long readAtNanos) {
    }

    private volatile Cached cached = new Cached(false, Long.MIN_VALUE);

    /** For the consumers: the switch as read at most {@link #REFRESH_NANOS} ago; on a read failure, the last value. */
    boolean paused() {
        Cached c = cached;
        long now = System.nanoTime();
        if (c.readAtNanos != Long.MIN_VALUE && now - c.readAtNanos < REFRESH_NANOS) {
            return c.paused;
        }
        try {
            boolean paused = state().paused();
            cached = new Cached(paused, now);
            return paused;
        } catch (IllegalStateException e) {
            LOG.warnf("could not read whether settlement is paused (keeping %s): %s", c.paused, e.getMessage());
            cached = new Cached(c.paused, now);
            return c.paused;
        }
    }

    public State state() {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "select paused, reason, changed_at, changed_by from ledger_settlement_control");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return new State(rs.getBoolean(1), rs.getString(2), rs.getTimestamp(3).toInstant(), rs.getObject(4, UUID.class));
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the settlement switch: " + e.getMessage(), e);
        }
    }

    /** Pauses or resumes settlement on every replica (within a second); this replica's consumers at once. */
    public State set(boolean paused, String reason, UUID changedBy) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     update ledger_settlement_control set paused = ?, reason = ?, changed_at = now(), changed_by = ?""")) {
            ps.setBoolean(1, paused);
            ps.setString(2, reason);
            ps.setObject(3, changedBy);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not change the settlement switch: " + e.getMessage(), e);
        }
        cached = new Cached(paused, System.nanoTime());
        LOG.infof("settlement of the usage feed %s by key %s%s", paused ? "paused" : "resumed", changedBy,
                reason == null ? "" : ": " + reason);
        return state();
    }
}
