package dev.tokenmarket.gateway;

import dev.tokenmarket.identity.KeyLimitsDirectory;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.OneRoundTrip;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.TemporalAdjusters;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-key limits: requests and tokens per calendar minute (UTC) and spend per reset period. The
 * counters live in PostgreSQL: a request reserves the most it can use with one conditional upsert per
 * window, so concurrent requests on any number of gateway replicas never pass a limit together; the
 * reservation is corrected to the actual usage in the transaction that meters the request.
 */
@ApplicationScoped
public class KeyLimits implements KeyLimitsDirectory {

    /** How long a key's limit settings are reused before being re-read (a change elsewhere applies within this). */
    private static final long SETTINGS_TTL_NANOS = 1_000_000_000L;
    private static final int CACHE_SIZE_MAX = 100_000;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    GatewayMetrics metrics;

    /** A key's limits; null fields do not apply. {@code spendReset} is never, daily, weekly or monthly. */
    public record Limits(Integer requestsPerMinute, Long tokensPerMinute, Long spendLimitNanoUsd, String spendReset) {
        static final Limits NONE = new Limits(null, null, null, "never");

        boolean none() {
            return requestsPerMinute == null && tokensPerMinute == null && spendLimitNanoUsd == null;
        }
    }

    /** What one request reserved against its key's windows. */
    public record Admission(UUID keyId, Instant minuteStart, long tokensReserved, Instant spendWindowStart,
                            long spendReservedNanoUsd) {
    }

    private record Cached(Limits limits, long readAtNanos) {
    }

    private final Map<UUID, Cached> cache = new ConcurrentHashMap<>();

    public Limits limits(UUID keyId) {
        Cached cached = cache.get(keyId);
        long now = System.nanoTime();
        if (cached != null && now - cached.readAtNanos < SETTINGS_TTL_NANOS) {
            return cached.limits;
        }
        Limits limits = read(keyId);
        if (cache.size() >= CACHE_SIZE_MAX) {
            cache.clear();
        }
        cache.put(keyId, new Cached(limits, now));
        return limits;
    }

    private Limits read(UUID keyId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select requests_per_minute, tokens_per_minute, spend_limit_nano_usd, spend_reset
                     from api_key_limits where api_key_id = ?""")) {
            ps.setObject(1, keyId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Limits.NONE;
                }
                return new Limits(rs.getObject(1, Integer.class), rs.getObject(2, Long.class), rs.getObject(3, Long.class),
                        rs.getString(4));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the limits of key " + keyId, e);
        }
    }

    @Override
    public Map<UUID, Summary> limitsOf(Collection<UUID> keyIds) {
        Map<UUID, Summary> summaries = new HashMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select api_key_id, requests_per_minute, tokens_per_minute, spend_limit_nano_usd, spend_reset
                     from api_key_limits where api_key_id = any (?)""")) {
            ps.setArray(1, c.createArrayOf("uuid", keyIds.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Long spend = rs.getObject(4, Long.class);
                    summaries.put(rs.getObject(1, UUID.class), new Summary(rs.getObject(2, Integer.class),
                            rs.getObject(3, Long.class), spend == null ? null : Money.formatUsd(spend), rs.getString(5)));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the limits of " + keyIds.size() + " keys", e);
        }
        return summaries;
    }

    /** Stores a key's limits (replacing all of them) and applies them on this replica at once. */
    @Transactional
    public void set(UUID keyId, Limits limits) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into api_key_limits (api_key_id, requests_per_minute, tokens_per_minute, spend_limit_nano_usd, spend_reset)
                     values (?, ?, ?, ?, ?)
                     on conflict (api_key_id) do update set requests_per_minute = excluded.requests_per_minute,
                         tokens_per_minute = excluded.tokens_per_minute, spend_limit_nano_usd = excluded.spend_limit_nano_usd,
                         spend_reset = excluded.spend_reset, updated_at = now()""")) {
            ps.setObject(1, keyId);
            ps.setObject(2, limits.requestsPerMinute());
            ps.setObject(3, limits.tokensPerMinute());
            ps.setObject(4, limits.spendLimitNanoUsd());
            ps.setString(5, limits.spendReset());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the limits of key " + keyId, e);
        }
        cache.remove(keyId);
    }

    /** Usage of the current windows: requests and tokens this minute, spend this period. */
    public record Usage(int requestsThisMinute, long tokensThisMinute, long spendNanoUsd, Instant spendWindowStart) {
    }

    public Usage usage(UUID keyId) {
        Limits limits = limits(keyId);
        Instant spendStart = spendWindowStart(limits.spendReset(), Instant.now());
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select coalesce(sum(requests) filter (where kind = 'minute' and window_start = date_trunc('minute', now())), 0),
                            coalesce(sum(tokens) filter (where kind = 'minute' and window_start = date_trunc('minute', now())), 0),
                            coalesce(sum(spend_nano_usd) filter (where kind = 'spend' and window_start = ?), 0)
                     from api_key_usage_windows where api_key_id = ?""")) {
            ps.setTimestamp(1, Timestamp.from(spendStart));
            ps.setObject(2, keyId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new Usage(rs.getInt(1), rs.getLong(2), rs.getLong(3), spendStart);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the usage of key " + keyId, e);
        }
    }

    /**
     * Reserves one request (none when {@code newRequest} is false: a fallback attempt of a request already
     * counted), {@code tokensMax} tokens and {@code spendMaxNanoUsd} against the key's limits,
     * or fails with 429 (rate) or 402 {@code spend_limit_reached}. Null when the key has no limits.
     */
    public Admission admit(UUID keyId, boolean newRequest, long tokensMax, long spendMaxNanoUsd) {
        Limits limits = limits(keyId);
        if (limits.none()) {
            return null;
        }
        if (limits.tokensPerMinute() != null && tokensMax > limits.tokensPerMinute()) {
            metrics.keyLimitRefused("minute");
            throw ApiException.invalid("max_tokens", "This request may use up to " + tokensMax
                    + " tokens (prompt plus max_tokens), more than this key's limit of " + limits.tokensPerMinute()
                    + " tokens per minute; lower max_tokens.");
        }
        if (limits.spendLimitNanoUsd() != null && spendMaxNanoUsd > limits.spendLimitNanoUsd()) {
            metrics.keyLimitRefused("spend");
            throw new ApiException(ErrorCode.SPEND_LIMIT_REACHED, "This request may cost up to "
                    + Money.formatUsd(spendMaxNanoUsd) + " USD, more than this key's whole spending limit of "
                    + Money.formatUsd(limits.spendLimitNanoUsd()) + " USD; lower max_tokens or raise the limit.");
        }
        return QuarkusTransaction.requiringNew().call(() -> reserve(keyId, limits, newRequest ? 1 : 0, tokensMax, spendMaxNanoUsd));
    }

    private Admission reserve(UUID keyId, Limits limits, int requests, long tokensMax, long spendMaxNanoUsd) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            Instant minuteStart = null;
            if (limits.requestsPerMinute() != null || limits.tokensPerMinute() != null) {
                try (PreparedStatement ps = c.prepareStatement("""
                        insert into api_key_usage_windows as w (api_key_id, kind, window_start, requests, tokens)
                        values (?, 'minute', date_trunc('minute', now()), ?, ?)
                        on conflict (api_key_id, kind, window_start) do update
                            set requests = w.requests + excluded.requests, tokens = w.tokens + excluded.tokens
                            where w.requests + excluded.requests <= ? and w.tokens + excluded.tokens <= ?
                        returning window_start""")) {
                    ps.setObject(1, keyId);
                    ps.setInt(2, requests);
                    ps.setLong(3, tokensMax);
                    ps.setInt(4, limits.requestsPerMinute() == null ? Integer.MAX_VALUE : limits.requestsPerMinute());
                    ps.setLong(5, limits.tokensPerMinute() == null ? Long.MAX_VALUE / 2 : limits.tokensPerMinute());
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            metrics.keyLimitRefused("minute");
                            int retryAfter = 60 - (int) (Instant.now().getEpochSecond() % 60);
                            throw ApiException.rateLimited("This key has reached its limit of "
                                    + (limits.requestsPerMinute() == null ? "" : limits.requestsPerMinute() + " requests")
                                    + (limits.requestsPerMinute() != null && limits.tokensPerMinute() != null ? " or " : "")
                                    + (limits.tokensPerMinute() == null ? "" : limits.tokensPerMinute() + " tokens")
                                    + " per minute; retry after " + retryAfter + " seconds.", retryAfter);
                        }
                        minuteStart = rs.getTimestamp(1).toInstant();
                    }
                }
            }
            Instant spendStart = null;
            if (limits.spendLimitNanoUsd() != null) {
                spendStart = spendWindowStart(limits.spendReset(), Instant.now());
                try (PreparedStatement ps = c.prepareStatement("""
                        insert into api_key_usage_windows as w (api_key_id, kind, window_start, spend_nano_usd)
                        values (?, 'spend', ?, ?)
                        on conflict (api_key_id, kind, window_start) do update
                            set spend_nano_usd = w.spend_nano_usd + excluded.spend_nano_usd
                            where w.spend_nano_usd + excluded.spend_nano_usd <= ?
                        returning window_start""")) {
                    ps.setObject(1, keyId);
                    ps.setTimestamp(2, Timestamp.from(spendStart));
                    ps.setLong(3, spendMaxNanoUsd);
                    ps.setLong(4, limits.spendLimitNanoUsd());
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next()) {
                            metrics.keyLimitRefused("spend");
                            throw new ApiException(ErrorCode.SPEND_LIMIT_REACHED, "This key's spending limit of "
                                    + Money.formatUsd(limits.spendLimitNanoUsd()) + " USD"
                                    + ("never".equals(limits.spendReset()) ? "" : " per " + period(limits.spendReset()))
                                    + " would be exceeded: this request may cost up to " + Money.formatUsd(spendMaxNanoUsd)
                                    + " USD. Lower max_tokens, wait for the reset, or raise the limit.");
                        }
                    }
                }
            }
            return new Admission(keyId, minuteStart, tokensMax, spendStart, limits.spendLimitNanoUsd() == null ? 0 : spendMaxNanoUsd);
        }
    }

    /** Gives back a reservation whose request served nothing (the request itself still counts). */
    public void release(Admission admission) {
        if (admission != null) {
            try (Connection c = dataSource.getConnection()) {
                OneRoundTrip.run(c, corrections(List.of(new Correction(admission, 0, 0))));
            } catch (SQLException e) {
                throw new IllegalStateException("could not release the reservation of key " + admission.keyId(), e);
            }
        }
    }

    /** A reservation and the request's actual usage, to correct it to. */
    record Correction(Admission admission, long tokens, long costNanoUsd) {
    }

    /**
     * The commands that correct reservations to the actual usage (in the metering transaction): one update of
     * one window each, in the order every writer of a key's windows locks them (by key, the minute before the
     * spend window, as {@link #admit} does), so that corrections and admissions never wait for each other in a
     * circle.
     */
    static List<OneRoundTrip.Command> corrections(List<Correction> corrections) {
        List<WindowGiveBack> giveBacks = new ArrayList<>();
        for (Correction c : corrections) {
            Admission a = c.admission();
            if (a == null) {
                continue;
            }
            if (a.minuteStart() != null) {
                giveBacks.add(new WindowGiveBack("tokens", "minute", a.keyId(), a.minuteStart(), a.tokensReserved() - c.tokens()));
            }
            if (a.spendWindowStart() != null) {
                giveBacks.add(new WindowGiveBack("spend_nano_usd", "spend", a.keyId(), a.spendWindowStart(),
                        a.spendReservedNanoUsd() - c.costNanoUsd()));
            }
        }
        giveBacks.sort(Comparator.comparing(WindowGiveBack::keyId).thenComparing(WindowGiveBack::kind)
                .thenComparing(WindowGiveBack::windowStart));
        return List.copyOf(giveBacks);
    }

    /** Gives back {@code amount} of a reservation in one window; {@code column} is one of two fixed names. */
    private record WindowGiveBack(String column, String kind, UUID keyId, Instant windowStart, long amount)
            implements OneRoundTrip.Command {
        @Override
        public String sql() {
            return "update api_key_usage_windows set " + column + " = greatest(0, " + column
                    + " - ?) where api_key_id = ? and kind = ? and window_start = ?";
        }

        @Override
        public int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
            ps.setLong(first, amount);
            ps.setObject(first + 1, keyId);
            ps.setString(first + 2, kind);
            ps.setTimestamp(first + 3, Timestamp.from(windowStart));
            return 4;
        }
    }

    /** Start of the spend period containing {@code now}, in UTC; weeks start on Monday. */
    static Instant spendWindowStart(String reset, Instant now) {
        LocalDate day = LocalDate.ofInstant(now, ZoneOffset.UTC);
        return switch (reset) {
            case "daily" -> day.atStartOfDay(ZoneOffset.UTC).toInstant();
            case "weekly" -> day.with(TemporalAdjusters.previousOrSame(DayOfWeek.MONDAY)).atStartOfDay(ZoneOffset.UTC).toInstant();
            case "monthly" -> day.withDayOfMonth(1).atStartOfDay(ZoneOffset.UTC).toInstant();
            default -> Instant.EPOCH;
        };
    }

    private static String period(String reset) {
        return switch (reset) {
            case "daily" -> "day";
            case "weekly" -> "week";
            default -> "month";
        };
    }
}
