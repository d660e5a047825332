package dev.tokenmarket.routing;

import dev.tokenmarket.catalog.SamplingParameter;
import dev.tokenmarket.platform.error.ApiException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@code provider.order} and {@code provider.only} find the offers they name by name instead of reading the
 * whole book; these tests hold the result to the documented rule, computed the slow way over every offer.
 */
class RouterOrderTest {

    private static final String MODEL = "m";

    @Test
    void explicitOrderTakesTheNamedOffersByPlaceThenTheOthersCheapestFirst() {
        // Provider "B" first, then one endpoint of provider "A"; the rest follow as fallbacks, cheapest first.
        Offer a1 = offer(1, 1, "A", 100);
        Offer a2 = offer(2, 1, "A", 300);
        Offer b1 = offer(3, 2, "B", 500);
        Offer b2 = offer(4, 2, "B", 400);
        Offer c1 = offer(5, 3, "C", 50);
        Offer c2 = offer(6, 3, "C", 200);
        Router router = Router.overFixedBook(List.of(a1, a2, b1, b2, c1, c2));

        List<Offer> candidates = router.candidates(MODEL, prefs(List.of("b", a2.endpointId().toString().toUpperCase(Locale.ROOT)),
                List.of(), List.of(), true));

        assertEquals(ids(List.of(b2, b1, a2, c1, a1)), ids(candidates));
        assertEquals(ids(List.of(b2)), ids(router.candidates(MODEL, prefs(List.of("B"), List.of(), List.of(), false))));
    }

    @Test
    void explicitOrderAndOnlyAgreeWithTheRuleOverEveryOffer() {
        Random random = new Random(7);
        for (int round = 0; round < 300; round++) {
            List<Offer> offers = new ArrayList<>();
            int providers = 1 + random.nextInt(12);
            int count = 1 + random.nextInt(60);
            for (int i = 0; i < count; i++) {
                int provider = random.nextInt(providers);
                // Few distinct prices, so that ties (broken by load, then endpoint id) are common.
                offers.add(offer(i, provider, "Provider " + provider, 100L * (1 + random.nextInt(5))));
            }
            Router router = Router.overFixedBook(offers);
            Map<UUID, Integer> load = new HashMap<>();
            for (Offer o : offers) {
                int slots = random.nextInt(3);
                for (int s = 0; s < slots && router.acquire(o); s++) {
                    load.merge(o.endpointId(), 1, Integer::sum);
                }
            }
            List<String> order = random.nextInt(4) == 0 ? List.of() : names(random, offers, providers, 1 + random.nextInt(3));
            List<String> only = random.nextInt(3) == 0 ? names(random, offers, providers, 1 + random.nextInt(3)) : List.of();
            List<String> ignore = random.nextInt(4) == 0 ? names(random, offers, providers, 1) : List.of();
            boolean fallbacks = random.nextInt(5) != 0;
            RoutingPreferences prefs = prefs(order, only, ignore, fallbacks);

            List<Offer> expected = byTheRule(offers, prefs, load, prefs.allowFallbacks() ? Router.CANDIDATES_MAX : 1);
            List<Offer> actual;
            try {
                actual = router.candidates(MODEL, prefs);
            } catch (ApiException e) {
                actual = List.of();
            }
            String what = "round " + round + ": order " + order + ", only " + only + ", ignore " + ignore;
            if (!order.isEmpty()) {
                assertEquals(ids(expected), ids(actual), what);
            } else {
                // The default sort spreads load by rotating equally priced offers: the same prices, from the allowed offers.
                assertEquals(expected.stream().map(Offer::combinedPriceNanoUsdPerMillionTokens).toList(),
                        actual.stream().map(Offer::combinedPriceNanoUsdPerMillionTokens).toList(), what);
                List<Offer> allowed = byTheRule(offers, prefs(order, only, ignore, true), load, Integer.MAX_VALUE);
                assertEquals(actual.size(), actual.stream().filter(allowed::contains).distinct().count(), what);
            }
        }
    }

    /** The rule, over every offer: keep those that pass the filters, sort by place in the order list, price, load, id. */
    private static List<Offer> byTheRule(List<Offer> offers, RoutingPreferences prefs, Map<UUID, Integer> load, int wanted) {
        List<Offer> kept = new ArrayList<>();
        for (Offer o : offers) {
            boolean onlyOk = prefs.only().isEmpty() || prefs.only().stream().anyMatch(ref -> named(o, ref));
            boolean ignored = prefs.ignore().stream().anyMatch(ref -> named(o, ref));
            int inFlight = load.getOrDefault(o.endpointId(), 0);
            if (onlyOk && !ignored && inFlight < o.capacityMaxConcurrency()) {
                kept.add(o);
            }
        }
        kept.sort(Comparator.comparingInt((Offer o) -> place(o, prefs.order()))
                .thenComparingLong(Offer::combinedPriceNanoUsdPerMillionTokens)
                .thenComparingInt(o -> load.getOrDefault(o.endpointId(), 0))
                .thenComparing(Offer::endpointId));
        return kept.size() > wanted ? kept.subList(0, wanted) : kept;
    }

    private static List<Long> ids(List<Offer> offers) {
        return offers.stream().map(o -> o.endpointId().getLeastSignificantBits()).toList();
    }

    private static int place(Offer o, List<String> order) {
        for (int i = 0; i < order.size(); i++) {
            if (named(o, order.get(i))) {
                return i;
            }
        }
        return Integer.MAX_VALUE;
    }

    private static boolean named(Offer o, String ref) {
        return ref.equalsIgnoreCase(o.endpointId().toString()) || ref.equalsIgnoreCase(o.providerOrgId().toString())
                || ref.equalsIgnoreCase(o.providerName());
    }

    /** Random references of every kind: provider names in any case, provider ids, endpoint ids, unknown names. */
    private static List<String> names(Random random, List<Offer> offers, int providers, int n) {
        List<String> refs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Offer some = offers.get(random.nextInt(offers.size()));
            refs.add(switch (random.nextInt(5)) {
                case 0 -> "provider " + random.nextInt(providers + 1);
                case 1 -> "PROVIDER " + random.nextInt(providers);
                case 2 -> some.providerOrgId().toString();
                case 3 -> some.endpointId().toString();
                default -> "nobody";
            });
        }
        return refs;
    }

    private static RoutingPreferences prefs(List<String> order, List<String> only, List<String> ignore, boolean fallbacks) {
        return new RoutingPreferences(null, order, only, ignore, fallbacks, null, null, null, null, 0);
    }

    private static Offer offer(int endpoint, int provider, String providerName, long promptPrice) {
        // At most two requests at once, so that some offers are full when the test takes slots.
        return new Offer(new UUID(0, endpoint), new UUID(1, provider), providerName, MODEL, "gpu", "gpu", "region",
                promptPrice, promptPrice * 2, 1, 100, 100, 1_000_000_000, 2, "openai", "http://127.0.0.1:1/v1", null, MODEL, 0,
                SamplingParameter.OPENAI_DEFAULT);
    }
}
