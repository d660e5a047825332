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
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

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

    private volatile Snapshot snapshot = new Snapshot(-1, 0, Map.of());
    private final Map<UUID, AtomicInteger> inFlight = new ConcurrentHashMap<>();

    /**
     * Candidates for {@code model} in the order they should be tried. Fails with 404 when no active endpoint
     * lists the model, and 503 naming what excluded each endpoint when all are filtered out.
     */
    public List<Offer> candidates(String model, RoutingPreferences prefs) {
        List<Offer> listed = current().offersByModel().getOrDefault(model, List.of());
        if (listed.isEmpty()) {
            throw new ApiException(ErrorCode.MODEL_NOT_FOUND, "The model '" + model
                    + "' is not served by any active endpoint; GET /v1/models lists the models on offer.", "model");
        }
        List<Offer> kept = new ArrayList<>();
        Map<String, Integer> excluded = new HashMap<>();
        for (Offer offer : listed) {
            String reason = exclusion(offer, prefs);
            if (reason == null) {
                kept.add(offer);
            } else {
                excluded.merge(reason, 1, Integer::sum);
            }
        }
        if (kept.isEmpty()) {
            StringBuilder why = new StringBuilder("No endpoint for '" + model + "' meets the request's constraints:");
            excluded.forEach((reason, count) -> why.append(' ').append(count).append(" excluded by ").append(reason).append(';'));
            throw new ApiException(ErrorCode.NO_PROVIDER_AVAILABLE, why.substring(0, why.length() - 1) + ".");
        }
        kept.sort(comparator(prefs));
        if (!prefs.allowFallbacks() && kept.size() > 1) {
            return List.of(kept.getFirst());
        }
        return kept;
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
        return null;
    }

    private static boolean names(Offer offer, String ref) {
        return ref.equalsIgnoreCase(offer.endpointId().toString())
                || ref.equalsIgnoreCase(offer.providerOrgId().toString())
                || ref.toLowerCase(Locale.ROOT).equals(offer.providerName().toLowerCase(Locale.ROOT));
    }

    private static Comparator<Offer> comparator(RoutingPreferences prefs) {
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
            primary = Comparator.comparingInt(Offer::declaredThroughputTps).reversed();
        } else if ("latency".equals(prefs.sort())) {
            primary = Comparator.comparingInt(Offer::declaredTtftMs);
        } else {
            // Default and "price": cheapest first, preferring endpoints that meet the buyer's speed wishes.
            primary = Comparator.<Offer>comparingInt(o -> meetsPreferences(o, prefs) ? 0 : 1).thenComparing(byPrice);
        }
        return primary.thenComparing(byPrice).thenComparing(o -> o.endpointId().toString());
    }

    private static boolean meetsPreferences(Offer o, RoutingPreferences prefs) {
        return (prefs.preferredMinThroughputTps() == null || o.declaredThroughputTps() >= prefs.preferredMinThroughputTps())
                && (prefs.preferredMaxLatencyMs() == null || o.declaredTtftMs() <= prefs.preferredMaxLatencyMs());
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
                            e.capacity_max_concurrency, e.backend_type, e.backend_url, e.backend_api_key, e.backend_model
                     from endpoints e join organizations o on o.id = e.provider_org_id
                     where e.status = 'active'""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Offer offer = new Offer(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getString(3),
                        rs.getString(4), rs.getString(5), rs.getString(6), rs.getString(7), rs.getLong(8), rs.getLong(9),
                        rs.getInt(10), rs.getInt(11), rs.getInt(12), rs.getInt(13), rs.getInt(14), rs.getString(15),
                        rs.getString(16), rs.getString(17), rs.getString(18));
                byModel.computeIfAbsent(offer.model(), m -> new ArrayList<>()).add(offer);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the catalog", e);
        }
        return new Snapshot(version, System.nanoTime(), Map.copyOf(byModel));
    }
}
