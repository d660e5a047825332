package dev.tokenmarket.metering;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;

/** Durable record of usage events not yet acknowledged by Kafka (the transactional outbox). */
@ApplicationScoped
public class UsageOutbox {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    OutboxRelay relay;

    /** Records the event in the caller's transaction; the relay publishes it once that commits. */
    @Transactional(Transactional.TxType.MANDATORY)
    public void record(UsageEvent event) {
        try (Connection c = dataSource.getConnection()) {
            insert(c, event);
        } catch (SQLException e) {
            throw new IllegalStateException("could not record usage event " + event.eventId(), e);
        }
        relay.nudgeAfterCommit();
    }

    /** Records the event on {@code c} in the caller's transaction; call {@link #committed()} after the commit. */
    public static void insert(Connection c, UsageEvent event) throws SQLException {
        insertAll(c, java.util.List.of(event));
    }

    /** {@link #insert} for several events in one round trip. */
    public static void insertAll(Connection c, java.util.List<UsageEvent> events) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "insert into usage_outbox (event_id, buyer_org_id, payload) values (?, ?, ?::jsonb)")) {
            for (UsageEvent event : events) {
                ps.setObject(1, event.eventId());
                ps.setObject(2, event.buyerOrgId());
                ps.setString(3, UsageEventCodec.toJson(event));
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /** Wakes the relay after events written with {@link #insert} were committed. */
    public void committed() {
        relay.wakeUp();
    }
}
