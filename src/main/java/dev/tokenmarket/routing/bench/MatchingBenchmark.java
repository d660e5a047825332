package dev.tokenmarket.routing.bench;

import dev.tokenmarket.routing.Offer;
import dev.tokenmarket.routing.Router;
import dev.tokenmarket.routing.RoutingPreferences;
import dev.tokenmarket.catalog.SamplingParameter;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;

/**
 * Cost of matching one request against a book of 10,000 endpoints of one model, for the common routing
 * requests: the default (cheapest), a price ceiling, speed preferences, sort by throughput or latency, an
 * ignore list, an explicit order and an only list (500 providers of 20 endpoints each). Steps: build a
 * seeded random book; warm up 2 s per case; then time batches of 1,000 matches for 3 s and report the median
 * and p99 of the per-match time over the batches. Parameters: {@code --endpoints 10000}.
 */
public final class MatchingBenchmark {

    private static final long WARMUP_NANOS = 2_000_000_000L;
    private static final long MEASURE_NANOS = 3_000_000_000L;
    private static final int BATCH = 1_000;

    public static void main(String[] args) {
        int endpoints = args.length == 2 && args[0].equals("--endpoints") ? Integer.parseInt(args[1]) : 10_000;
        Random random = new Random(42);
        List<Offer> offers = new ArrayList<>(endpoints);
        for (int i = 0; i < endpoints; i++) {
            long price = 50_000_000L + random.nextInt(2_000) * 1_000_000L;
            offers.add(new Offer(new UUID(0, i), new UUID(1, i % 500), "provider " + (i % 500), "bench-model", "gpu", "gpu",
                    "region", price, price * 2, 1, 20 + random.nextInt(2_000), 20 + random.nextInt(2_000), 1_000_000_000,
                    1_000_000, "openai", "http://127.0.0.1:1/v1", null, "bench", 0,
                    // One upstream in ten takes top_k, as vLLM-style servers do and OpenAI's does not.
                    i % 10 == 0 ? SamplingParameter.ALL : SamplingParameter.OPENAI_DEFAULT));
        }
        Router router = Router.overFixedBook(offers);
        String cheapestProvider = offers.stream().min((a, b) -> Long.compare(a.combinedPriceNanoUsdPerMillionTokens(),
                b.combinedPriceNanoUsdPerMillionTokens())).orElseThrow().providerName();
        record Case(String name, RoutingPreferences prefs) {
        }
        List<Case> cases = List.of(
                new Case("default (cheapest)", RoutingPreferences.DEFAULT),
                new Case("max_price", new RoutingPreferences(null, List.of(), List.of(), List.of(), true, 1_000_000_000L, 2_000_000_000L, null, null, 0)),
                new Case("preferred_min_throughput 1500", new RoutingPreferences(null, List.of(), List.of(), List.of(), true, null, null, 1_500, null, 0)),
                new Case("ignore cheapest provider", new RoutingPreferences(null, List.of(), List.of(), List.of(cheapestProvider), true, null, null, null, null, 0)),
                new Case("sort throughput", new RoutingPreferences("throughput", List.of(), List.of(), List.of(), true, null, null, null, null, 0)),
                new Case("sort latency", new RoutingPreferences("latency", List.of(), List.of(), List.of(), true, null, null, null, null, 0)),
                new Case("order [two providers]", new RoutingPreferences(null, List.of("provider 7", "provider 123"), List.of(), List.of(), true, null, null, null, null, 0)),
                new Case("only [one provider]", new RoutingPreferences(null, List.of(), List.of("provider 42"), List.of(), true, null, null, null, null, 0)),
                new Case("require_parameters [top_k]", RoutingPreferences.DEFAULT.requiring(SamplingParameter.TOP_K.bit())));
        System.out.printf("matching against %,d endpoints of one model (%s, %s)%n", endpoints,
                System.getProperty("java.vm.version"), Runtime.getRuntime().availableProcessors() + " CPUs");
        for (Case c : cases) {
            long sink = 0;
            long until = System.nanoTime() + WARMUP_NANOS;
            while (System.nanoTime() < until) {
                sink += router.candidates("bench-model", c.prefs()).size();
            }
            List<Double> perMatchMicros = new ArrayList<>();
            until = System.nanoTime() + MEASURE_NANOS;
            while (System.nanoTime() < until) {
                long start = System.nanoTime();
                for (int i = 0; i < BATCH; i++) {
                    sink += router.candidates("bench-model", c.prefs()).size();
                }
                perMatchMicros.add((System.nanoTime() - start) / 1_000.0 / BATCH);
            }
            double[] sorted = perMatchMicros.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            System.out.printf("  %-32s median %8.2f us, p99 %8.2f us per match (%d batches; %d)%n", c.name(),
                    sorted[sorted.length / 2], sorted[(int) Math.ceil(sorted.length * 0.99) - 1], sorted.length, sink % 10);
        }
    }
}
