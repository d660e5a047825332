package dev.tokenmarket.metering;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Metering's summaries of the generations it recorded: what an organization bought or served per UTC day and
 * model, and how fast an endpoint answered over time. Other contexts (catalog for an endpoint's speed) ask
 * through this class; the generations table stays metering's own.
 */
@ApplicationScoped
public class UsageReads {

    @Inject
    AgroalDataSource dataSource;

    /** One UTC day of one model: requests, tokens and their metered cost. */
    public record DailyUsage(LocalDate day, String model, long requests, long promptTokens, long completionTokens,
                             long costNanoUsd) {
    }

    /** One time bucket of an endpoint's generations; the percentiles are null when the bucket has no sample. */
    public record SpeedBucket(Instant start, long requests, Double ttftMsP50, Double ttftMsP90, Double throughputTpsP50,
                              Double throughputTpsP90) {
    }

    /** Which side of the generations an organization is on. */
    public enum Side {
        BUYER("buyer_org_id"), PROVIDER("provider_org_id");

        private final String column;

        Side(String column) {
            this.column = column;
        }
    }

    /** The generations {@code orgId} bought or served in [from, to), per UTC day and model, in that order. */
    public List<DailyUsage> daily(UUID orgId, Side side, Instant from, Instant to) {
        // The column name comes from the enum, never from input.
        String sql = """
                select (created_at at time zone 'UTC')::date, model, count(*), sum(prompt_tokens), sum(completion_tokens),
                       sum(cost_nano_usd)
                from generations where %s = ? and created_at >= ? and created_at < ?
                group by 1, 2 order by 1, 2""".formatted(side.column);
        List<DailyUsage> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setObject(1, orgId);
            ps.setTimestamp(2, Timestamp.from(from));
            ps.setTimestamp(3, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new DailyUsage(rs.getDate(1).toLocalDate(), rs.getString(2), rs.getLong(3), rs.getLong(4),
                            rs.getLong(5), rs.getLong(6)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the daily usage of " + orgId, e);
        }
        return rows;
    }

    /**
     * An endpoint's measured time to first token and throughput in buckets of {@code bucket} from {@code from}
     * (buckets without generations left out). Throughput counts generations of more than one token, as routing
     * measures it: a single token has no rate.
     */
    public List<SpeedBucket> speed(UUID endpointId, Instant from, Instant to, Duration bucket) {
        List<SpeedBucket> rows = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select date_bin(make_interval(secs => ?), created_at, ?) as bucket, count(*),
                            percentile_cont(0.5) within group (order by ttft_ms) filter (where not cancelled),
                            percentile_cont(0.9) within group (order by ttft_ms) filter (where not cancelled),
                            percentile_cont(0.5) within group (order by completion_tokens * 1000.0 / generation_ms)
                                filter (where completion_tokens > 1 and generation_ms > 0),
                            percentile_cont(0.9) within group (order by completion_tokens * 1000.0 / generation_ms)
                                filter (where completion_tokens > 1 and generation_ms > 0)
                     from generations where endpoint_id = ? and created_at >= ? and created_at < ?
                     group by 1 order by 1""")) {
            ps.setLong(1, bucket.toSeconds());
            ps.setTimestamp(2, Timestamp.from(from));
            ps.setObject(3, endpointId);
            ps.setTimestamp(4, Timestamp.from(from));
            ps.setTimestamp(5, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    rows.add(new SpeedBucket(rs.getTimestamp(1).toInstant(), rs.getLong(2), figure(rs, 3), figure(rs, 4),
                            figure(rs, 5), figure(rs, 6)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the speed of endpoint " + endpointId, e);
        }
        return rows;
    }

    /** A display figure to two decimals, or null for none. */
    private static Double figure(ResultSet rs, int column) throws SQLException {
        double value = rs.getDouble(column);
        return rs.wasNull() ? null : Math.round(value * 100.0) / 100.0;
    }
}
