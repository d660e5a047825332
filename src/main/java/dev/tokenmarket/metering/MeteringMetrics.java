package dev.tokenmarket.metering;

import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import io.quarkus.runtime.Startup;
import jakarta.inject.Singleton;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * The outbox between metering and Kafka: how many usage events wait in it and how old the oldest is. Both are
 * read from PostgreSQL when scraped (one query for the two, reused for a second), so every replica reports
 * the shared outbox as it is; the backlog is counted up to {@link #BACKLOG_COUNTED_MAX}.
 */
@Startup
@Singleton
public class MeteringMetrics {

    /** A backlog this large is an outage either way; counting further would only make the scrape slow. */
    static final int BACKLOG_COUNTED_MAX = 1_000_000;
    private static final long REUSE_NANOS = 1_000_000_000L;

    private final AgroalDataSource dataSource;
    private Reading last = new Reading(0, 0, Long.MIN_VALUE);

    /** {@code readAtNanos}: when it was read, to reuse it for the other gauge of the same scrape. */
    private record Reading(double backlog, double oldestAgeSeconds, long readAtNanos) {
    }

    @Inject
    public MeteringMetrics(MeterRegistry registry, AgroalDataSource dataSource) {
        this.dataSource = dataSource;
        Gauge.builder("tokenmarket.outbox.backlog", this, m -> m.reading().backlog).baseUnit("events")
                .description("Usage events metered but not yet acknowledged by Kafka").register(registry);
        Gauge.builder("tokenmarket.outbox.oldest.age", this, m -> m.reading().oldestAgeSeconds).baseUnit("seconds")
                .description("Age of the oldest usage event waiting in the outbox (0 when it is empty)").register(registry);
    }

    private synchronized Reading reading() {
        long now = System.nanoTime();
        if (now - last.readAtNanos < REUSE_NANOS) {
            return last;
        }
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                // As the relay does: planner statistics of a queue table favour a scan of its dead rows.
                try (PreparedStatement ps = c.prepareStatement("set local enable_seqscan = off")) {
                    ps.execute();
                }
                try (PreparedStatement ps = c.prepareStatement("""
                        select (select count(*) from (select 1 from usage_outbox where published_at is null limit ?) waiting),
                               coalesce(extract(epoch from now() - (select min(created_at) from usage_outbox
                                                                     where published_at is null)), 0)""")) {
                    ps.setInt(1, BACKLOG_COUNTED_MAX);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        last = new Reading(rs.getLong(1), Math.max(0, rs.getDouble(2)), now);
                    }
                }
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            // A database that does not answer is shown by the health check; the gauges show nothing new.
            return last;
        }
        return last;
    }
}
