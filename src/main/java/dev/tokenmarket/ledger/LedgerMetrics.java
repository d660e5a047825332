package dev.tokenmarket.ledger;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Inject;
import io.quarkus.runtime.Startup;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * The ledger's flow: holds placed, captured, voided and expired; settlement batches (size and duration);
 * dead letters; and how far settlement is behind the usage topic, per partition.
 *
 * <p>Hold counts are static adders: holds are placed and captured inside static SQL commands that run in
 * other contexts' group commits, where no bean is at hand; the registry reads them as counters.
 */
@Startup
@Singleton
public class LedgerMetrics {

    private static final LongAdder HOLDS_PLACED = new LongAdder();
    private static final LongAdder HOLDS_CAPTURED = new LongAdder();
    private static final LongAdder HOLDS_VOIDED = new LongAdder();
    private static final LongAdder HOLDS_EXPIRED = new LongAdder();
    private static final Duration[] BATCH_DURATION_BUCKETS = {Duration.ofMillis(5), Duration.ofMillis(10),
            Duration.ofMillis(25), Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250),
            Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(5), Duration.ofSeconds(10)};
    private static final double[] BATCH_SIZE_BUCKETS = {1, 10, 50, 100, 500, 1_000, 2_000, 5_000};

    private final MeterRegistry registry;
    private final Timer batchDuration;
    private final DistributionSummary batchSize;
    private final Counter deadLetters;
    private final Map<Integer, AtomicLong> lagByPartition = new ConcurrentHashMap<>();

    @Inject
    ConsumerLag consumerLag;

    @Inject
    public LedgerMetrics(MeterRegistry registry) {
        this.registry = registry;
        hold(registry, "placed", HOLDS_PLACED, "Holds placed on buyer wallets (each the most its request can cost)");
        hold(registry, "captured", HOLDS_CAPTURED, "Holds captured by settlement for their request's cost");
        hold(registry, "voided", HOLDS_VOIDED, "Holds released in full (their request produced nothing to bill)");
        hold(registry, "expired", HOLDS_EXPIRED, "Holds released by expiry (their gateway died mid-request)");
        batchDuration = Timer.builder("tokenmarket.settlement.batch.duration")
                .description("Time to settle one batch of usage events (parse, post, dead letters)")
                .serviceLevelObjectives(BATCH_DURATION_BUCKETS).register(registry);
        batchSize = DistributionSummary.builder("tokenmarket.settlement.batch.size")
                .description("Usage events per settlement batch").serviceLevelObjectives(BATCH_SIZE_BUCKETS)
                .register(registry);
        deadLetters = Counter.builder("tokenmarket.dead.letters")
                .description("Usage records the ledger could not post, sent to the dead-letter topic").register(registry);
    }

    private static void hold(MeterRegistry registry, String outcome, LongAdder count, String description) {
        FunctionCounter.builder("tokenmarket.holds." + outcome, count, LongAdder::sum).description(description)
                .register(registry);
    }

    public static void holdsPlaced(int count) {
        HOLDS_PLACED.add(count);
    }

    public static void holdsCaptured(int count) {
        HOLDS_CAPTURED.add(count);
    }

    static void holdVoided() {
        HOLDS_VOIDED.increment();
    }

    static void holdsVoided(int count) {
        HOLDS_VOIDED.add(count);
    }

    static void holdsExpired(int count) {
        HOLDS_EXPIRED.add(count);
    }

    public void settled(int events, long nanos) {
        batchSize.record(events);
        batchDuration.record(nanos, TimeUnit.NANOSECONDS);
    }

    void deadLettered(int count) {
        deadLetters.increment(count);
    }

    /**
     * Measures the consumer group's lag off the scrape path (it asks the broker, which may be slow or away);
     * when Kafka does not answer, the last figures stay and the outbox's age shows the outage.
     */
    @Scheduled(every = "${tokenmarket.metrics.consumer-lag-interval:15s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void measureLag() {
        ConsumerLag.Lag lag = consumerLag.measure();
        if (lag.unavailableReason() != null) {
            return;
        }
        lag.byPartition().forEach((partition, behind) -> lagByPartition.computeIfAbsent(partition, p -> {
            AtomicLong value = new AtomicLong();
            Gauge.builder("tokenmarket.consumer.lag", value, AtomicLong::get).baseUnit("events")
                    .description("Usage events produced but not yet settled, per partition of the usage topic")
                    .tag("partition", Integer.toString(p)).register(registry);
            return value;
        }).set(behind));
    }
}
