package dev.tokenmarket.metering;

import dev.tokenmarket.platform.OneRoundTrip;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.Date;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * What other contexts ask about metered generations: those of a model in a period (the spot index), one
 * generation's record (the buyer's {@code /v1/generation}), a key's usage per day, the measured speed of a
 * model's endpoints, and the charges finance reconciles against the ledger. The generations table stays
 * metering's own.
 */
@ApplicationScoped
public class MeteredGenerations {

    /** Rows handed over at a time: an hour of a busy model is millions of rows, never all in memory at once. */
    public static final int CHUNK_ROWS_MAX = 10_000;

    @Inject
    AgroalDataSource dataSource;

    /** One metered generation: who bought from whom, how many tokens, at what cost. */
    public record Generation(UUID id, UUID buyerOrgId, UUID providerOrgId, int promptTokens, int completionTokens,
                             long costNanoUsd) {
    }

    /** One metered generation as finance reconciles it: who paid, who earned, the cost and the platform's fee. */
    public record Charge(UUID id, UUID buyerOrgId, UUID providerOrgId, long costNanoUsd, long feeNanoUsd) {
    }

    /** One generation's record, as its buyer reads it back. */
    public record Detail(UUID id, UUID buyerOrgId, UUID endpointId, UUID providerOrgId, String model, int promptTokens,
                         int completionTokens, long costNanoUsd, long latencyMs, long ttftMs, long generationMs,
                         String finishReason, boolean streamed, boolean cancelled, OffsetDateTime createdAt) {
    }

    /** A key's use of one model on one UTC day. */
    public record DayUsage(LocalDate day, String model, long requests, long promptTokens, long completionTokens,
                           long costNanoUsd) {
    }

    /** The 50th, 90th and 99th percentiles of one measure. */
    public record Percentiles(double p50, double p90, double p99) {
    }

    /** An endpoint's measured speed over a window; a measure is null when none of its requests has it. */
    public record Speed(long requests, Percentiles ttftMs, Percentiles throughputTps) {
    }

    /**
     * Hands {@code sink} the generations of {@code model} metered in [from, to), in chunks of at most
     * {@value #CHUNK_ROWS_MAX}, read from one snapshot. "Metered" is the generation row's time, written in the
     * transaction that records its usage event.
     */
    public void forEachChunk(String model, Instant from, Instant to, Consumer<List<Generation>> sink) {
        inChunks("""
                select id, buyer_org_id, provider_org_id, prompt_tokens, completion_tokens, cost_nano_usd
                from generations where model = ? and created_at >= ? and created_at < ?""",
                ps -> {
                    ps.setString(1, model);
                    ps.setTimestamp(2, Timestamp.from(from));
                    ps.setTimestamp(3, Timestamp.from(to));
                },
                rs -> new Generation(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class),
                        rs.getObject(3, UUID.class), rs.getInt(4), rs.getInt(5), rs.getLong(6)),
                sink, "the generations of " + model + " in [" + from + ", " + to + ")");
    }

    /** Hands {@code sink} the charges of every generation metered in [from, to), in chunks, from one snapshot. */
    public void forEachChargeChunk(Instant from, Instant to, Consumer<List<Charge>> sink) {
        inChunks("""
                select id, buyer_org_id, provider_org_id, cost_nano_usd, fee_nano_usd
                from generations where created_at >= ? and created_at < ?""",
                ps -> {
                    ps.setTimestamp(1, Timestamp.from(from));
                    ps.setTimestamp(2, Timestamp.from(to));
                },
                rs -> new Charge(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                        rs.getLong(4), rs.getLong(5)),
                sink, "the charges metered in [" + from + ", " + to + ")");
    }

    private interface Binder {
        void bind(PreparedStatement ps) throws SQLException;
    }

    private interface RowReader<T> {
        T read(ResultSet rs) throws SQLException;
    }

    private <T> void inChunks(String sql, Binder binder, RowReader<T> reader, Consumer<List<T>> sink, String what) {
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            // Inside a transaction the driver fetches the rows a chunk at a time instead of all at once.
            c.setAutoCommit(false);
            c.setReadOnly(true);
            try (PreparedStatement ps = c.prepareStatement(sql)) {
                // Rows in binary: a uuid is then 16 bytes to copy, not 36 characters to parse, three times a row.
                ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(-1);
                ps.setFetchSize(CHUNK_ROWS_MAX);
                binder.bind(ps);
                try (ResultSet rs = ps.executeQuery()) {
                    List<T> chunk = new ArrayList<>(CHUNK_ROWS_MAX);
                    while (rs.next()) {
                        chunk.add(reader.read(rs));
                        if (chunk.size() == CHUNK_ROWS_MAX) {
                            sink.accept(chunk);
                            chunk = new ArrayList<>(CHUNK_ROWS_MAX);
                        }
                    }
                    if (!chunk.isEmpty()) {
                        sink.accept(chunk);
                    }
                }
            } finally {
                c.rollback();
                c.setReadOnly(false);
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read " + what, e);
        }
    }

    /** Those of {@code ids} that are metered generations. */
    public Set<UUID> meteredAmong(Collection<UUID> ids) {
        if (ids.isEmpty()) {
            return Set.of();
        }
        OneRoundTrip.UuidsAnswered found = new OneRoundTrip.UuidsAnswered("select id from generations where id = any(?)", ids);
        try (Connection c = dataSource.getConnection()) {
            OneRoundTrip.run(c, List.of(found));
        } catch (SQLException e) {
            throw new IllegalStateException("could not look up metered generations", e);
        }
        return found.answered();
    }

    /** The generation with {@code id}, if it was metered. */
    public Optional<Detail> find(UUID id) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select buyer_org_id, endpoint_id, provider_org_id, model, prompt_tokens, completion_tokens,
                            cost_nano_usd, latency_ms, ttft_ms, generation_ms, finish_reason, streamed, cancelled, created_at
                     from generations where id = ?""")) {
            ps.setObject(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                return Optional.of(new Detail(id, rs.getObject(1, UUID.class), rs.getObject(2, UUID.class),
                        rs.getObject(3, UUID.class), rs.getString(4), rs.getInt(5), rs.getInt(6), rs.getLong(7),
                        rs.getLong(8), rs.getLong(9), rs.getLong(10), rs.getString(11), rs.getBoolean(12),
                        rs.getBoolean(13), rs.getObject(14, OffsetDateTime.class)));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read generation " + id, e);
        }
    }

    /** Requests, tokens and spend of {@code keyId} per UTC day in [fromDay, toDay] and model, in that order. */
    public List<DayUsage> usageOfKey(UUID keyId, LocalDate fromDay, LocalDate toDay) {
        List<DayUsage> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select (created_at at time zone 'UTC')::date as day, model, count(*), sum(prompt_tokens),
                            sum(completion_tokens), sum(cost_nano_usd)
                     from generations
                     where api_key_id = ? and created_at >= ?::date at time zone 'UTC'
                       and created_at < (?::date + 1) at time zone 'UTC'
                     group by 1, 2 order by 1, 2""")) {
            ps.setObject(1, keyId);
            ps.setDate(2, Date.valueOf(fromDay));
            ps.setDate(3, Date.valueOf(toDay));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new DayUsage(rs.getDate(1).toLocalDate(), rs.getString(2), rs.getLong(3), rs.getLong(4),
                            rs.getLong(5), rs.getLong(6)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the usage of key " + keyId, e);
        }
        return rows;
    }

    /**
     * The measured speed of each endpoint of {@code model} with generations in the last {@code window} (a
     * PostgreSQL interval such as {@code 1 hour}): time to first token and generation-phase throughput.
     */
    public Map<UUID, Speed> speedsOf(String model, String window) {
        Map<UUID, Speed> speeds = new HashMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select endpoint_id,
                            count(*),
                            percentile_cont(0.5) within group (order by ttft_ms),
                            percentile_cont(0.9) within group (order by ttft_ms),
                            percentile_cont(0.99) within group (order by ttft_ms),
                            percentile_cont(0.5) within group (order by completion_tokens * 1000.0 / greatest(generation_ms, 1)),
                            percentile_cont(0.9) within group (order by completion_tokens * 1000.0 / greatest(generation_ms, 1)),
                            percentile_cont(0.99) within group (order by completion_tokens * 1000.0 / greatest(generation_ms, 1))
                     from generations where model = ? and created_at > now() - ?::interval
                     group by endpoint_id""")) {
            ps.setString(1, model);
            ps.setString(2, window);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    speeds.put(rs.getObject(1, UUID.class), new Speed(rs.getLong(2), percentiles(rs, 3), percentiles(rs, 6)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not measure the endpoints of " + model, e);
        }
        return speeds;
    }

    private static Percentiles percentiles(ResultSet rs, int firstColumn) throws SQLException {
        if (rs.getObject(firstColumn) == null) {
            return null;
        }
        return new Percentiles(rs.getDouble(firstColumn), rs.getDouble(firstColumn + 1), rs.getDouble(firstColumn + 2));
    }

    /** Usage events the outbox has not yet handed to Kafka. */
    public long unpublished() {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select count(*) from usage_outbox where published_at is null");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        } catch (SQLException e) {
            throw new IllegalStateException("could not count the outbox backlog", e);
        }
    }

    /** Usage events metered before {@code before} that the outbox has not yet handed to Kafka. */
    public long unpublishedBefore(Instant before) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "select count(*) from usage_outbox where published_at is null and created_at < ?")) {
            ps.setTimestamp(1, Timestamp.from(before));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not count the outbox backlog", e);
        }
    }
}
