package dev.tokenmarket.routing;

import dev.tokenmarket.catalog.CatalogChanges;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Matches a request against the standing offers of the active endpoints: filters by model, the buyer's
 * only/ignore lists, maximum prices and free capacity, then sorts by the requested criterion. It works
 * on an in-memory snapshot of the catalog, refreshed when the catalog changes, so matching costs no I/O.
 */
@ApplicationScoped
public class Router {

    /** How long a snapshot may serve before it is re-read even without a local change (other replicas). */
    private static final long SNAPSHOT_AGE_NANOS_MAX = 2_000_000_000L;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CatalogChanges changes;

    private record Snapshot(long version, long takenAtNanos, Map<String, List<Offer>> offersByModel) {
    }

    /** Candidates returned per request: the first and the fallbacks after it. */
    public static final int CANDIDATES_MAX = 5;

    @Inject
    EndpointHealth health;

    private volatile Snapshot snapshot = new Snapshot(-1, 0, Map.of());
    private final Map<UUID, AtomicInteger> inFlight = new ConcurrentHashMap<>();
    private final Map<UUID, MinuteCounter> tokensPerMinute = new ConcurrentHashMap<>();
    private final AtomicLong rotation = new AtomicLong();

    /**
     * Candidates for {@code model} in the order they should be tried, at most {@link #CANDIDATES_MAX}. Fails
     * with 404 when no active endpoint lists the model, and 503 naming what excluded each endpoint when all
     * are filtered out.
     */
    public List<Offer> candidates(String model, RoutingPreferences prefs) {
        List<Offer> listed = current().offersByModel().getOrDefault(model, List.of());
        if (listed.isEmpty()) {
            throw new ApiException(ErrorCode.MODEL_NOT_FOUND, "The model '" + model
                    + "' is not served by any active endpoint; GET /v1/models lists the models on offer.", "model");
        }
        int wanted = prefs.allowFallbacks() ? CANDIDATES_MAX : 1;
        List<Offer> kept = prefs.order().isEmpty() && (prefs.sort() == null || "price".equals(prefs.sort()))
                ? cheapestFirst(listed, prefs, wanted)
                : sortedBy(listed, prefs, wanted);
        if (kept.isEmpty()) {
            Map<String, Integer> excluded = new TreeMap<>();
            for (Offer offer : listed) {
                excluded.merge(exclusion(offer, prefs), 1, Integer::sum);
            }
            StringBuilder why = new StringBuilder("No endpoint for '" + model + "' meets the request's constraints:");
            excluded.forEach((reason, count) -> why.append(' ').append(count).append(" excluded by ").append(reason).append(';'));
            throw new ApiException(ErrorCode.NO_PROVIDER_AVAILABLE, why.substring(0, why.length() - 1) + ".");
        }
        return kept;
    }

    /**
     * The default sort on the pre-sorted book: walks offers cheapest first and stops once it has enough,
     * so matching costs little even with thousands of endpoints. Endpoints meeting the buyer's speed wishes
     * come first; equally priced ones are rotated so that load spreads between them.
     */
    private List<Offer> cheapestFirst(List<Offer> byPrice, RoutingPreferences prefs, int wanted) {
        boolean hasWishes = prefs.preferredMinThroughputTps() != null || prefs.preferredMaxLatencyMs() != null;
        List<Offer> meeting = new ArrayList<>(wanted);
        List<Offer> others = hasWishes ? new ArrayList<>(wanted) : meeting;
        for (Offer offer : byPrice) {
            if (meeting.size() >= wanted && (!hasWishes || others.size() >= wanted)) {
                break;
            }
            if (exclusion(offer, prefs) != null) {
                continue;
            }
            List<Offer> target = !hasWishes || meetsPreferences(offer, prefs) ? meeting : others;
            if (target.size() < wanted) {
                target.add(offer);
            }
        }
        spreadAmongEqualPrices(meeting);
        if (hasWishes) {
            spreadAmongEqualPrices(others);
            meeting.addAll(others);
        }
        return meeting.size() > wanted ? List.copyOf(meeting.subList(0, wanted)) : meeting;
    }

    /** Rotates the leading run of equally priced offers by a per-request counter, least loaded first. */
    private void spreadAmongEqualPrices(List<Offer> offers) {
        int run = 1;
        while (run < offers.size() && offers.get(run).combinedPriceNanoUsdPerMillionTokens()
                == offers.getFirst().combinedPriceNanoUsdPerMillionTokens()) {
            run++;
        }
        if (run > 1) {
            Collections.rotate(offers.subList(0, run), (int) (rotation.getAndIncrement() % run));
            offers.subList(0, run).sort(Comparator.comparingInt(o -> inFlight(o.endpointId())));
        }
    }

    /** Sorts by throughput, latency or an explicit order: every offer is looked at. */
    private List<Offer> sortedBy(List<Offer> listed, RoutingPreferences prefs, int wanted) {
        List<Offer> kept = new ArrayList<>();
        for (Offer offer : listed) {
            if (exclusion(offer, prefs) == null) {
                kept.add(offer);
            }
        }
        kept.sort(comparator(prefs));
        return kept.size() > wanted ? List.copyOf(kept.subList(0, wanted)) : kept;
    }

    private String exclusion(Offer offer, RoutingPreferences prefs) {
        if (!prefs.only().isEmpty() && prefs.only().stream().noneMatch(ref -> names(offer, ref))) {
            return "provider.only";
        }
        if (prefs.ignore().stream().anyMatch(ref -> names(offer, ref))) {
            return "provider.ignore";
        }
        if (prefs.maxPromptPriceNanoUsdPerMillionTokens() != null
                && offer.promptPriceNanoUsdPerMillionTokens() > prefs.maxPromptPriceNanoUsdPerMillionTokens()) {
            return "provider.max_price.prompt (" + Money.formatUsd(prefs.maxPromptPriceNanoUsdPerMillionTokens()) + ")";
        }
        if (prefs.maxCompletionPriceNanoUsdPerMillionTokens() != null
                && offer.completionPriceNanoUsdPerMillionTokens() > prefs.maxCompletionPriceNanoUsdPerMillionTokens()) {
            return "provider.max_price.completion (" + Money.formatUsd(prefs.maxCompletionPriceNanoUsdPerMillionTokens()) + ")";
        }
        if (inFlight(offer.endpointId()) >= offer.capacityMaxConcurrency()) {
            return "capacity (max_concurrency reached)";
        }
        if (tokensThisMinute(offer.endpointId()) >= offer.capacityTokensPerMinute()) {
            return "capacity (tokens_per_minute reached)";
        }
        if (health.circuitOpen(offer.endpointId())) {
            return "circuit breaker (endpoint failing, cooling down)";
        }
        return null;
    }

    private static boolean names(Offer offer, String ref) {
        return ref.equalsIgnoreCase(offer.endpointId().toString())
                || ref.equalsIgnoreCase(offer.providerOrgId().toString())
                || ref.toLowerCase(Locale.ROOT).equals(offer.providerName().toLowerCase(Locale.ROOT));
    }

    private Comparator<Offer> comparator(RoutingPreferences prefs) {
        Comparator<Offer> byPrice = Comparator.comparingLong(Offer::combinedPriceNanoUsdPerMillionTokens);
        Comparator<Offer> primary;
        if (!prefs.order().isEmpty()) {
            primary = Comparator.comparingInt(o -> {
                for (int i = 0; i < prefs.order().size(); i++) {
                    if (names(o, prefs.order().get(i))) {
                        return i;
                    }
                }
                return Integer.MAX_VALUE;
            });
        } else if ("throughput".equals(prefs.sort())) {
            primary = Comparator.comparingDouble(this::throughputTps).reversed();
        } else {
            primary = Comparator.comparingDouble(this::ttftMs);
        }
        return primary.thenComparing(byPrice).thenComparingInt(o -> inFlight(o.endpointId()));
    }

    /** Measured median throughput once there are enough samples, else the declared figure. */
    private double throughputTps(Offer o) {
        double measured = health.throughputP50Tps(o.endpointId());
        return Double.isNaN(measured) ? o.declaredThroughputTps() : measured;
    }

    /** Measured median time to first token once there are enough samples, else the declared figure. */
    private double ttftMs(Offer o) {
        double measured = health.ttftP50Ms(o.endpointId());
        return Double.isNaN(measured) ? o.declaredTtftMs() : measured;
    }

    private boolean meetsPreferences(Offer o, RoutingPreferences prefs) {
        return (prefs.preferredMinThroughputTps() == null || throughputTps(o) >= prefs.preferredMinThroughputTps())
                && (prefs.preferredMaxLatencyMs() == null || ttftMs(o) <= prefs.preferredMaxLatencyMs());
    }

    /** Tokens served by the endpoint in the current minute, on this replica. */
    public int tokensThisMinute(UUID endpointId) {
        MinuteCounter counter = tokensPerMinute.get(endpointId);
        return counter == null ? 0 : counter.get(System.currentTimeMillis() / 60_000);
    }

    /** Counts tokens against the endpoint's tokens-per-minute capacity. */
    public void addTokens(UUID endpointId, int tokens) {
        tokensPerMinute.computeIfAbsent(endpointId, id -> new MinuteCounter()).add(System.currentTimeMillis() / 60_000, tokens);
    }

    /** Tokens in the current calendar minute; resets when the minute changes. */
    private static final class MinuteCounter {
        private long minute;
        private int tokens;

        synchronized int get(long now) {
            return now == minute ? tokens : 0;
        }

        synchronized void add(long now, int n) {
            if (now != minute) {
                minute = now;
                tokens = 0;
            }
            tokens += n;
        }
    }

    public int inFlight(UUID endpointId) {
        AtomicInteger n = inFlight.get(endpointId);
        return n == null ? 0 : n.get();
    }

    /** Takes a concurrency slot on the endpoint; false when it is full. */
    public boolean acquire(Offer offer) {
        AtomicInteger n = inFlight.computeIfAbsent(offer.endpointId(), id -> new AtomicInteger());
        while (true) {
            int current = n.get();
            if (current >= offer.capacityMaxConcurrency()) {
                return false;
            }
            if (n.compareAndSet(current, current + 1)) {
                return true;
            }
        }
    }

    public void release(Offer offer) {
        inFlight.get(offer.endpointId()).decrementAndGet();
    }

    private Snapshot current() {
        Snapshot s = snapshot;
        long version = changes.version();
        if (s.version() != version || System.nanoTime() - s.takenAtNanos() > SNAPSHOT_AGE_NANOS_MAX) {
            s = load(version);
            snapshot = s;
        }
        return s;
    }

    private Snapshot load(long version) {
        Map<String, List<Offer>> byModel = new HashMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select e.id, e.provider_org_id, o.name, e.model, e.hardware, e.hardware_class, e.region,
                            e.prompt_price_nano_usd_per_mtok, e.completion_price_nano_usd_per_mtok, e.price_version,
                            e.declared_throughput_tps, e.declared_ttft_ms, e.capacity_tokens_per_minute,
                            e.capacity_max_concurrency, e.backend_type, e.backend_url, e.backend_api_key, e.backend_model,
                            coalesce(e.backend_max_tokens_per_second, 0)
                     from endpoints e join organizations o on o.id = e.provider_org_id
                     where e.status = 'active'""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Offer offer = new Offer(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getString(3),
                        rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), rs.getLong(8), rs.getLong(9),
                        rs.getInt(10), rs.getInt(11), rs.getInt(12), rs.getInt(13), rs.getInt(14), rs.getString(15),
                        rs.getString(16), rs.getString(17), rs.getString(18), rs.getInt(19));
                byModel.computeIfAbsent(offer.model(), m -> new ArrayList<>()).add(offer);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the catalog", e);
        }
        // The book: each model's offers pre-sorted cheapest first, so the default match stops early.
        byModel.values().forEach(offers -> offers.sort(Comparator.comparingLong(Offer::combinedPriceNanoUsdPerMillionTokens)
                .thenComparing(Offer::endpointId)));
        return new Snapshot(version, System.nanoTime(), Map.copyOf(byModel));
    }
}
