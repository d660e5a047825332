package dev.tokenmarket.forwards.index;

import dev.tokenmarket.ledger.SpotHolds;
import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.ledger.UsageSettlement;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.TimeOrderedIds;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.as;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The index benchmark: one hour of a model with 1,000,000 settled generations (20 providers, 200 buyers),
 * computed as the publisher computes it. Not part of the suite (no *Test name); run it alone, under the
 * benchmark lock:
 *
 * <pre>
 * ./mvnw -B verify -Dtest=SpotIndexBenchmark -Dsurefire.failIfNoSpecifiedTests=false -DskipITs
 * </pre>
 *
 * The seeding takes minutes and measures nothing; only the measurement holds the shared machine's
 * benchmark lock ({@code flock /tmp/tokenmarket-bench.lock}, taken by a child {@code flock} process), so
 * that no other benchmark runs while it measures.
 *
 * ({@code -Dindex.bench.generations=N} for another size). Seeding writes the generations as the gateway's
 * metering does (rows of metering's table, written here in bulk) and settles them through the ledger's own
 * {@link UsageSettlement}, so the computation reads exactly what it reads in production.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class SpotIndexBenchmark {

    private static final int PROVIDERS = 20;
    private static final int BUYERS = 200;
    private static final int BATCH = 10_000;

    @Inject
    UsageSettlement settlement;

    @Inject
    SpotHolds spotHolds;

    @Inject
    LedgerAccounts accounts;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    IndexComputation computation;

    @Inject
    IndexConfig config;

    @Test
    void anHourOfAMillionGenerationsIsComputedWellUnderAMinute() throws Exception {
        int generations = Integer.getInteger("index.bench.generations", 1_000_000);
        String model = "index-bench-" + UUID.randomUUID().toString().substring(0, 8);
        Instant hour = Instant.parse("2026-01-05T10:00:00Z");
        Random random = new Random(42);

        long seedStarted = System.nanoTime();
        List<Org> providers = new ArrayList<>();
        List<String> endpoints = new ArrayList<>();
        long[] price = new long[PROVIDERS];
        for (int p = 0; p < PROVIDERS; p++) {
            Org provider = Market.org("bench provider", "provider");
            price[p] = Money.NANO_PER_USD + p * 50_000_000L;
            String usd = Money.formatUsd(price[p]);
            endpoints.add(as(provider.key()).body(Map.of(
                            "model", model, "hardware", "bench", "hardware_class", "gpu", "region", "local",
                            "pricing", Map.of("prompt", usd, "completion", usd),
                            "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                            "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                            "backend", Map.of("type", "openai", "url", "http://127.0.0.1:9/v1", "model", model)))
                    .post("/api/endpoints").then().statusCode(201).extract().path("id"));
            providers.add(provider);
        }
        List<Org> buyers = new ArrayList<>();
        for (int b = 0; b < BUYERS; b++) {
            Org buyer = Market.org("bench buyer", "buyer");
            Market.funded(buyer, "100000.00");
            buyers.add(buyer);
        }
        // The generations table refers to a hold; one serves them all (the first event captures it).
        UUID holdId = UUID.randomUUID();
        spotHolds.place(holdId, accounts.walletOf(UUID.fromString(buyers.getFirst().id())), 1_000_000, "index benchmark",
                Duration.ofHours(1));
        for (int done = 0; done < generations; done += BATCH) {
            List<UsageEvent> events = new ArrayList<>(BATCH);
            List<Instant> metered = new ArrayList<>(BATCH);
            for (int i = 0; i < Math.min(BATCH, generations - done); i++) {
                int p = random.nextInt(PROVIDERS);
                Org buyer = buyers.get(random.nextInt(BUYERS));
                int prompt = 50 + random.nextInt(2_000);
                int completion = 10 + random.nextInt(1_000);
                // Time-ordered ids, as the gateway's are. A few sales far off their endpoint's price, for the outlier rule to find.
                long promptPrice = random.nextInt(1_000) == 0 ? price[p] * 40 : price[p];
                long cost = Money.cost(prompt, promptPrice, completion, price[p]);
                Instant at = hour.plusMillis(random.nextInt(3_600_000));
                events.add(new UsageEvent(TimeOrderedIds.next(), at, UUID.fromString(buyer.id()), UUID.fromString(buyer.keyId()),
                        UUID.fromString(endpoints.get(p)), UUID.fromString(providers.get(p).id()), model, prompt, completion,
                        promptPrice, price[p], cost, Money.fee(cost, 500), holdId, 100, 900, 1_000, "stop"));
                metered.add(at);
            }
            insertGenerations(events, metered);
            UsageSettlement.Outcome outcome = settlement.settle(events, Arrays.asList(new byte[events.size()][]));
            assertEquals(events.size(), outcome.posted(), outcome.rejected().toString());
        }
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement("vacuum analyze generations")) {
            ps.execute();
        }
        System.out.printf("index benchmark: seeded %,d settled generations in %.1f s%n", generations,
                (System.nanoTime() - seedStarted) / 1e9);

        Methodology methodology = Methodology.of(config);
        Process lock = new ProcessBuilder("flock", "/tmp/tokenmarket-bench.lock", "sh", "-c", "echo locked; cat")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try (var locked = new java.io.BufferedReader(new java.io.InputStreamReader(lock.getInputStream()))) {
            long waited = System.nanoTime();
            assertEquals("locked", locked.readLine(), "flock took the benchmark lock");
            System.out.printf("index benchmark: waited %.0f s for the benchmark lock%n", (System.nanoTime() - waited) / 1e9);
            measure(model, hour, generations, methodology);
        } finally {
            lock.getOutputStream().close();
            lock.waitFor();
        }
    }

    private void measure(String model, Instant hour, int generations, Methodology methodology) {
        for (int run = 1; run <= 3; run++) {
            long started = System.nanoTime();
            IndexValue.Computed value = computation.compute(model, hour, methodology);
            double seconds = (System.nanoTime() - started) / 1e9;
            System.out.printf("index benchmark: run %d computed the hour of %s generations in %.2f s: rule %s, price %s, %s%n",
                    run, value.inputs().get("generations"), seconds, value.rule().wireName(),
                    Money.formatUsd(value.priceNanoUsdPerMillionSt()), value.inputs());
            assertEquals(IndexValue.Rule.SPOT, value.rule());
            assertEquals(generations, ((Number) value.inputs().get("candidates")).intValue());
            assertTrue(seconds < 60, "the target is well under a minute; took " + seconds + " s");
        }
    }

    /** The generation rows the gateway's metering writes, in bulk. */
    private void insertGenerations(List<UsageEvent> events, List<Instant> metered) throws Exception {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement("""
                insert into generations (id, buyer_org_id, api_key_id, endpoint_id, provider_org_id, model,
                    prompt_tokens, completion_tokens, prompt_price_nano_usd_per_mtok, completion_price_nano_usd_per_mtok,
                    cost_nano_usd, fee_nano_usd, hold_id, finish_reason, streamed, cancelled, latency_ms, ttft_ms,
                    generation_ms, created_at)
                select id, buyer, api_key, endpoint, provider, ?, prompt, completion, prompt_price, completion_price, cost,
                       fee, ?, 'stop', false, false, 1000, 100, 900, created_at
                from unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[], ?::int[], ?::int[], ?::bigint[],
                            ?::bigint[], ?::bigint[], ?::bigint[], ?::timestamptz[])
                     as t (id, buyer, api_key, endpoint, provider, prompt, completion, prompt_price, completion_price,
                           cost, fee, created_at)""")) {
            ps.setString(1, events.getFirst().model());
            ps.setObject(2, events.getFirst().holdId());
            ps.setArray(3, c.createArrayOf("uuid", events.stream().map(UsageEvent::eventId).toArray()));
            ps.setArray(4, c.createArrayOf("uuid", events.stream().map(UsageEvent::buyerOrgId).toArray()));
            ps.setArray(5, c.createArrayOf("uuid", events.stream().map(UsageEvent::apiKeyId).toArray()));
            ps.setArray(6, c.createArrayOf("uuid", events.stream().map(UsageEvent::endpointId).toArray()));
            ps.setArray(7, c.createArrayOf("uuid", events.stream().map(UsageEvent::providerOrgId).toArray()));
            ps.setArray(8, c.createArrayOf("int4", events.stream().map(UsageEvent::promptTokens).toArray()));
            ps.setArray(9, c.createArrayOf("int4", events.stream().map(UsageEvent::completionTokens).toArray()));
            ps.setArray(10, c.createArrayOf("int8", events.stream().map(UsageEvent::promptPriceNanoUsdPerMillionTokens).toArray()));
            ps.setArray(11, c.createArrayOf("int8", events.stream().map(UsageEvent::completionPriceNanoUsdPerMillionTokens).toArray()));
            ps.setArray(12, c.createArrayOf("int8", events.stream().map(UsageEvent::costNanoUsd).toArray()));
            ps.setArray(13, c.createArrayOf("int8", events.stream().map(UsageEvent::feeNanoUsd).toArray()));
            ps.setArray(14, c.createArrayOf("timestamptz", metered.stream().map(Timestamp::from).toArray()));
            ps.executeUpdate();
        }
    }
}
