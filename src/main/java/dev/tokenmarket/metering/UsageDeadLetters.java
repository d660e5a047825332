package dev.tokenmarket.metering;

import dev.tokenmarket.platform.OneRoundTrip;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * Usage records the ledger could not settle, kept in PostgreSQL for finance's reports. The ledger consumer
 * records them and the reconciliation reads them here: the table is metering's, like the events it holds.
 */
@ApplicationScoped
public class UsageDeadLetters {

    @Inject
    AgroalDataSource dataSource;

    /** One unsettled record: the event id when one could be read (else null), where it came from, and why. */
    public record DeadLetter(String eventId, String sourceTopic, int sourcePartition, long sourceOffset, String reason,
                             String payload) {
    }

    /** A recorded dead letter as finance lists it. */
    public record Recorded(long id, String eventId, String sourceTopic, int sourcePartition, long sourceOffset,
                           String reason, Instant createdAt) {
    }

    /** Records {@code dead}; a record already recorded (same topic, partition and offset) is kept as it was. */
    public void record(List<DeadLetter> dead) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into usage_dead_letters (event_id, source_topic, source_partition, source_offset, reason, payload)
                     values (?::uuid, ?, ?, ?, ?, ?) on conflict do nothing""")) {
            for (DeadLetter d : dead) {
                ps.setString(1, d.eventId());
                ps.setString(2, d.sourceTopic());
                ps.setInt(3, d.sourcePartition());
                ps.setLong(4, d.sourceOffset());
                ps.setString(5, d.reason());
                ps.setString(6, d.payload());
                ps.addBatch();
            }
            ps.executeBatch();
        } catch (SQLException e) {
            throw new IllegalStateException("could not record dead letters", e);
        }
    }

    /** How many were recorded in [from, to). */
    public long countIn(Instant from, Instant to) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "select count(*) from usage_dead_letters where created_at >= ? and created_at < ?")) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not count dead letters", e);
        }
    }

    /** The first {@code limit} recorded in [from, to), in the order they were recorded. */
    public List<Recorded> firstIn(Instant from, Instant to, int limit) {
        List<Recorded> listed = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select id, event_id, source_topic, source_partition, source_offset, reason, created_at
                     from usage_dead_letters where created_at >= ? and created_at < ? order by id limit ?""")) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            ps.setInt(3, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    listed.add(new Recorded(rs.getLong(1), rs.getString(2), rs.getString(3), rs.getInt(4), rs.getLong(5),
                            rs.getString(6), rs.getTimestamp(7).toInstant()));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not list dead letters", e);
        }
        return listed;
    }

    /** Those of {@code eventIds} with a dead letter. */
    public Set<UUID> deadLetteredAmong(Collection<UUID> eventIds) {
        if (eventIds.isEmpty()) {
            return Set.of();
        }
        OneRoundTrip.UuidsAnswered found = new OneRoundTrip.UuidsAnswered(
                "select distinct event_id from usage_dead_letters where event_id = any(?)", eventIds);
        try (Connection c = dataSource.getConnection()) {
            OneRoundTrip.run(c, List.of(found));
        } catch (SQLException e) {
            throw new IllegalStateException("could not look up dead letters", e);
        }
        return found.answered();
    }
}
