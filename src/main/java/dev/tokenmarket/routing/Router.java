package dev.tokenmarket.routing;

import dev.tokenmarket.catalog.CatalogChanges;
import dev.tokenmarket.catalog.Listings;
import dev.tokenmarket.catalog.SamplingParameter;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.opentelemetry.instrumentation.annotations.WithSpan;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
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
    Listings listings;

    @Inject
    CatalogChanges changes;

    /**
     * One model's offers, pre-sorted three ways (cheapest first, highest declared throughput first, lowest
     * declared time to first token first), so that a match walks from the top and stops early; and indexed
     * by every name a buyer may use for them in {@code provider.only} or {@code provider.order} (endpoint id,
     * provider id, provider name, lower-cased), so that naming a few offers does not mean reading them all.
     */
    private record Book(List<Offer> byPrice, List<Offer> byDeclaredThroughput, List<Offer> byDeclaredLatency,
                        Map<UUID, Offer> byId, Map<String, List<Offer>> byName, Book whole) {
        static final Book EMPTY = new Book(List.of(), List.of(), List.of(), Map.of(), Map.of(), null);

        private static final Comparator<Offer> BY_PRICE =
                Comparator.comparingLong(Offer::combinedPriceNanoUsdPerMillionTokens).thenComparing(Offer::endpointId);

        static Book of(List<Offer> offers) {
            Map<UUID, Offer> byId = new HashMap<>();
            Map<String, List<Offer>> byName = new HashMap<>();
            List<Offer> byPrice = offers.stream().sorted(BY_PRICE).toList();
            for (Offer o : byPrice) {
                byId.put(o.endpointId(), o);
                for (String name : List.of(o.endpointId().toString(), o.providerOrgId().toString(), nameKey(o.providerName()))) {
                    List<Offer> named = byName.computeIfAbsent(name, n -> new ArrayList<>());
                    // A provider whose name is its id string would list each offer twice.
                    if (named.isEmpty() || named.getLast() != o) {
                        named.add(o);
                    }
                }
            }
            byName.replaceAll((name, named) -> List.copyOf(named));
            return new Book(byPrice, sortedBySpeed(byPrice, true), sortedBySpeed(byPrice, false), Map.copyOf(byId),
                    Map.copyOf(byName), null);
        }

        private static List<Offer> sortedBySpeed(List<Offer> offers, boolean throughput) {
            return offers.stream().sorted(throughput
                    ? Comparator.comparingInt(Offer::declaredThroughputTps).reversed().thenComparing(BY_PRICE)
                    : Comparator.comparingInt(Offer::declaredTtftMs).thenComparing(BY_PRICE)).toList();
        }

        /** The offers {@code ref} names, cheapest first. */
        List<Offer> named(String ref) {
            List<Offer> named = (whole == null ? byName : whole.byName).getOrDefault(nameKey(ref), List.of());
            return whole == null ? named : named.stream().filter(o -> byId.containsKey(o.endpointId())).toList();
        }

        /**
         * The book of the offers any of {@code refs} names: what {@code provider.only} leaves to choose from,
         * built per request from the few named offers (names are looked up in the whole book).
         */
        Book only(List<String> refs) {
            Map<UUID, Offer> kept = new HashMap<>();
            for (String ref : refs) {
                named(ref).forEach(o -> kept.put(o.endpointId(), o));
            }
            List<Offer> byPrice = kept.values().stream().sorted(BY_PRICE).toList();
            return new Book(byPrice, sortedBySpeed(byPrice, true), sortedBySpeed(byPrice, false), kept, Map.of(), this);
        }
    }

    private record Snapshot(long version, long takenAtNanos, Map<String, Book> books) {
    }

    /** Candidates returned per request: the first and the fallbacks after it. */
    public static final int CANDIDATES_MAX = 5;

    @Inject
    EndpointHealth health;

    /** Capacity across all gateway replicas: concurrency slots and tokens per minute. */
    @Inject
    CapacityCoordinator capacity;

    private volatile Snapshot snapshot = new Snapshot(-1, 0, Map.of());
    private final AtomicLong rotation = new AtomicLong();
    private boolean fixedBook;

    /**
     * Candidates for {@code model} in the order they should be tried, at most {@link #CANDIDATES_MAX}. Fails
     * with 404 when no active endpoint lists the model, and 503 naming what excluded each endpoint when all
     * are filtered out.
     */
    @WithSpan("route")
    public List<Offer> candidates(String model, RoutingPreferences prefs) {
        Book whole = current().books().getOrDefault(model, Book.EMPTY);
        List<Offer> listed = whole.byPrice();
        if (listed.isEmpty()) {
            throw new ApiException(ErrorCode.MODEL_NOT_FOUND, "The model '" + model
                    + "' is not served by any active endpoint; GET /v1/models lists the models on offer.", "model");
        }
        // The few offers provider.only names, found by name rather than by reading the whole book.
        Book book = prefs.only().isEmpty() ? whole : whole.only(prefs.only());
        int wanted = prefs.allowFallbacks() ? CANDIDATES_MAX : 1;
        List<Offer> kept;
        if (!prefs.order().isEmpty()) {
            kept = inExplicitOrder(book, prefs, wanted);
        } else if ("throughput".equals(prefs.sort()) || "latency".equals(prefs.sort())) {
            kept = fastestFirst(book, prefs, wanted);
        } else {
            kept = cheapestFirst(book.byPrice(), prefs, wanted);
        }
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

    /**
     * Sort by throughput or latency. Offers without trusted measurements are taken from the top of the book
     * sorted by their declared figure, stopping early; offers this replica has measured (usually few) are
     * added from the health window and ranked by their measured figure; the merged list is sorted.
     */
    private List<Offer> fastestFirst(Book book, RoutingPreferences prefs, int wanted) {
        Set<UUID> measured = health.measuredEndpoints();
        List<Offer> picked = new ArrayList<>(wanted * 2);
        for (Offer offer : "throughput".equals(prefs.sort()) ? book.byDeclaredThroughput() : book.byDeclaredLatency()) {
            if (picked.size() >= wanted) {
                break;
            }
            if (!measured.contains(offer.endpointId()) && exclusion(offer, prefs) == null) {
                picked.add(offer);
            }
        }
        for (UUID id : measured) {
            Offer offer = book.byId().get(id);
            if (offer != null && exclusion(offer, prefs) == null) {
                picked.add(offer);
            }
        }
        picked.sort(comparator(prefs));
        return picked.size() > wanted ? List.copyOf(picked.subList(0, wanted)) : picked;
    }

    /**
     * Sort by an explicit order: the offers the order list names, by their first place in it, then (as
     * fallbacks) the others cheapest first; within a place, cheapest then least loaded first. The named
     * offers are found by name and the others read from the top of the book, so a long book costs nothing.
     */
    private List<Offer> inExplicitOrder(Book book, RoutingPreferences prefs, int wanted) {
        Map<UUID, Integer> place = new HashMap<>();
        List<Offer> named = new ArrayList<>();
        for (int i = 0; i < prefs.order().size(); i++) {
            for (Offer offer : book.named(prefs.order().get(i))) {
                if (place.putIfAbsent(offer.endpointId(), i) == null && exclusion(offer, prefs) == null) {
                    named.add(offer);
                }
            }
        }
        Comparator<Offer> cheapestThenLeastLoaded = Comparator.comparingLong(Offer::combinedPriceNanoUsdPerMillionTokens)
                .thenComparingInt(o -> inFlight(o.endpointId()));
        named.sort(Comparator.comparingInt((Offer o) -> place.get(o.endpointId())).thenComparing(cheapestThenLeastLoaded));
        if (named.size() >= wanted) {
            return List.copyOf(named.subList(0, wanted));
        }
        // The others: enough of them from the cheapest, plus any priced the same as the last one taken (the
        // least loaded of equally priced offers goes first).
        List<Offer> others = new ArrayList<>();
        int othersWanted = wanted - named.size();
        for (Offer offer : book.byPrice()) {
            if (others.size() >= othersWanted && offer.combinedPriceNanoUsdPerMillionTokens()
                    != others.getLast().combinedPriceNanoUsdPerMillionTokens()) {
                break;
            }
            if (!place.containsKey(offer.endpointId()) && exclusion(offer, prefs) == null) {
                others.add(offer);
            }
        }
        others.sort(cheapestThenLeastLoaded);
        named.addAll(others.size() > othersWanted ? others.subList(0, othersWanted) : others);
        return named;
    }

    private String exclusion(Offer offer, RoutingPreferences prefs) {
        if (!prefs.only().isEmpty() && prefs.only().stream().noneMatch(ref -> names(offer, ref))) {
            return "provider.only";
        }
        if (!prefs.ignore().isEmpty() && prefs.ignore().stream().anyMatch(ref -> names(offer, ref))) {
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
        // Before the capacity checks: a bit test, where those look up shared counters.
        long unsupported = prefs.requiredParameters() & ~offer.supportedParameters();
        if (unsupported != 0) {
            return unsupportedReason(unsupported);
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

    /** Reasons by mask of missing parameters, built once each: a match may exclude thousands of offers. */
    private static final String[] UNSUPPORTED_REASONS = new String[1 << SamplingParameter.values().length];

    private static String unsupportedReason(long unsupported) {
        String reason = UNSUPPORTED_REASONS[(int) unsupported];
        if (reason == null) {
            // A race builds the same string twice, which is harmless.
            reason = "provider.require_parameters (" + String.join(", ", SamplingParameter.wireNames(unsupported))
                    + " not supported)";
            UNSUPPORTED_REASONS[(int) unsupported] = reason;
        }
        return reason;
    }

    private static boolean names(Offer offer, String ref) {
        return ref.equalsIgnoreCase(offer.endpointId().toString())
                || ref.equalsIgnoreCase(offer.providerOrgId().toString())
                || nameKey(ref).equals(nameKey(offer.providerName()));
    }

    /** How names compare: case-insensitive (ids are lower-case hex already). */
    private static String nameKey(String name) {
        return name.toLowerCase(Locale.ROOT);
    }

    private Comparator<Offer> comparator(RoutingPreferences prefs) {
        Comparator<Offer> byPrice = Comparator.comparingLong(Offer::combinedPriceNanoUsdPerMillionTokens);
        Comparator<Offer> primary;
        if ("throughput".equals(prefs.sort())) {
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

    /** Tokens served by the endpoint in the current minute, by all replicas as far as this one knows. */
    public long tokensThisMinute(UUID endpointId) {
        return capacity.tokensThisMinute(endpointId);
    }

    /** Counts tokens against the endpoint's tokens-per-minute capacity. */
    public void addTokens(UUID endpointId, int tokens) {
        capacity.addTokens(endpointId, tokens);
    }

    /** Requests this replica runs on the endpoint. */
    public int inFlight(UUID endpointId) {
        return capacity.inFlight(endpointId);
    }

    /** Takes a concurrency slot on the endpoint; false when it is full across all replicas. */
    public boolean acquire(Offer offer) {
        return capacity.acquire(offer);
    }

    public void release(Offer offer) {
        capacity.release(offer);
    }

    /**
     * A router over a fixed book of offers that never reads the database: what the matching benchmark
     * measures, the same code as in service minus the catalog refresh.
     */
    public static Router overFixedBook(List<Offer> offers) {
        Router router = new Router();
        router.health = new EndpointHealth();
        router.capacity = CapacityCoordinator.local();
        Map<String, List<Offer>> byModel = new HashMap<>();
        offers.forEach(o -> byModel.computeIfAbsent(o.model(), m -> new ArrayList<>()).add(o));
        router.snapshot = book(0, byModel);
        router.fixedBook = true;
        return router;
    }

    private Snapshot current() {
        Snapshot s = snapshot;
        if (fixedBook) {
            return s;
        }
        long version = changes.version();
        if (s.version() != version || System.nanoTime() - s.takenAtNanos() > SNAPSHOT_AGE_NANOS_MAX) {
            s = load(version);
            snapshot = s;
        }
        return s;
    }

    private Snapshot load(long version) {
        Map<String, List<Offer>> byModel = new HashMap<>();
        for (Listings.Listing l : listings.active()) {
            Offer offer = new Offer(l.endpointId(), l.providerOrgId(), l.providerName(), l.model(), l.hardware(),
                    l.hardwareClass(), l.region(), l.promptPriceNanoUsdPerMillionTokens(),
                    l.completionPriceNanoUsdPerMillionTokens(), l.priceVersion(), l.declaredThroughputTps(),
                    l.declaredTtftMs(), l.capacityTokensPerMinute(), l.capacityMaxConcurrency(), l.backendType(),
                    l.backendUrl(), l.backendApiKeyEncrypted(), l.backendModel(), l.backendTokensPerSecondMax(),
                    l.supportedParameters());
            byModel.computeIfAbsent(offer.model(), m -> new ArrayList<>()).add(offer);
        }
        return book(version, byModel);
    }

    /** The books of every model, sorted once per catalog change rather than once per request. */
    private static Snapshot book(long version, Map<String, List<Offer>> byModel) {
        Map<String, Book> books = new HashMap<>();
        byModel.forEach((model, offers) -> books.put(model, Book.of(offers)));
        return new Snapshot(version, System.nanoTime(), Map.copyOf(books));
    }
}
