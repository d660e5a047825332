package dev.tokenmarket.forwards.index;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.catalog.ListedPrices;
import dev.tokenmarket.ledger.SettledUsage;
import dev.tokenmarket.metering.KafkaTopics;
import dev.tokenmarket.metering.MeteredGenerations;
import dev.tokenmarket.platform.ClusterExclusive;
import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.ProcessRole;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Publishes each model's hourly value: provisional once the hour has been over for the provisional delay,
 * final once it has been over for the final delay and settlement has caught up with it; each is written once
 * (PostgreSQL), then sent to Kafka, keyed by model, and stamped when Kafka acknowledges it.
 */
@ApplicationScoped
public class IndexPublisher {

    public static final String TOPIC = "tokenmarket.forwards.index.v1";
    private static final Logger LOG = Logger.getLogger(IndexPublisher.class);
    private static final int SENDS_PER_RUN_MAX = 1_000;
    private static final long SEND_TIMEOUT_SECONDS = 10;

    @Inject
    IndexConfig config;

    @Inject
    IndexComputation computation;

    @Inject
    IndexStore store;

    @Inject
    ListedPrices listedPrices;

    @Inject
    MeteredGenerations meteredGenerations;

    @Inject
    SettledUsage settledUsage;

    @Inject
    KafkaSettings kafka;

    @Inject
    ObjectMapper objectMapper;

    @Inject
    ClusterExclusive exclusive;

    /** What time it is for the schedule; the tests call {@link #publishDue} with the time they choose instead. */
    Clock clock = Clock.systemUTC();

    private KafkaProducer<String, String> producer;

    void start(@Observes StartupEvent event) {
        KafkaTopics.create(kafka, new NewTopic(TOPIC, 1, kafka.replicationFactor()));
        producer = new KafkaProducer<>(kafka.reliableProducer(Duration.ofSeconds(10)),
                new StringSerializer(), new StringSerializer());
    }

    void stop(@Observes ShutdownEvent event) {
        if (producer != null) {
            producer.close(Duration.ofSeconds(2));
        }
    }

    /** In one settlement process at a time, so that two never send the same value side by side. */
    @Scheduled(every = "${tokenmarket.index.publish-interval:30s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP,
            skipExecutionIf = ProcessRole.NotSettlement.class)
    void run() {
        exclusive.runAlone("spot index publisher", () -> {
            publishDue(clock.instant(), listedPrices.models());
            sendUnpublished();
        });
    }

    /**
     * Writes every value due at {@code now} for {@code models} within the look-back, oldest hour first (the
     * previous-value rule reads the hour before); answers the values written.
     */
    synchronized List<IndexValue> publishDue(Instant now, Collection<String> models) {
        Methodology methodology = Methodology.of(config);
        Instant newestEnd = now.minus(config.provisionalDelay()).truncatedTo(ChronoUnit.HOURS);
        Instant oldestStart = newestEnd.minus(config.lookbackHours(), ChronoUnit.HOURS);
        List<IndexValue> written = new ArrayList<>();
        Boolean consumersCaughtUp = null;
        for (String model : models) {
            Map<Instant, Set<IndexValue.Status>> published = store.statuses(model, oldestStart, newestEnd);
            for (Instant hour = oldestStart; hour.isBefore(newestEnd); hour = hour.plus(IndexValue.HOUR)) {
                Set<IndexValue.Status> has = published.getOrDefault(hour, Set.of());
                if (has.contains(IndexValue.Status.FINAL)) {
                    continue;
                }
                if (!has.contains(IndexValue.Status.PROVISIONAL)) {
                    write(new IndexValue(model, hour, IndexValue.Status.PROVISIONAL,
                            computation.compute(model, hour, methodology), methodology, now), written);
                }
                Instant hourEnd = hour.plus(IndexValue.HOUR);
                if (now.isBefore(hourEnd.plus(config.finalDelayMin()))) {
                    continue;
                }
                // The outbox first, then the consumers: once nothing metered before the hour's end waits in the
                // outbox, a consumer lag of zero means every one of those events is settled (or dead-lettered).
                if (meteredGenerations.unpublishedBefore(hourEnd) > 0) {
                    continue;
                }
                if (consumersCaughtUp == null) {
                    consumersCaughtUp = settledUsage.consumersCaughtUp();
                }
                if (consumersCaughtUp) {
                    write(new IndexValue(model, hour, IndexValue.Status.FINAL,
                            computation.compute(model, hour, methodology), methodology, now), written);
                }
            }
        }
        return written;
    }

    private void write(IndexValue value, List<IndexValue> written) {
        if (store.insert(value, json(value.view()))) {
            written.add(value);
        }
    }

    String json(Map<String, Object> view) {
        try {
            return objectMapper.writeValueAsString(view);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not write an index value as JSON", e);
        }
    }

    /** Sends the values Kafka has not acknowledged yet; a failure leaves them for the next run. */
    int sendUnpublished() {
        int sent = 0;
        for (IndexStore.Published value : store.unpublished(SENDS_PER_RUN_MAX)) {
            try {
                producer.send(new ProducerRecord<>(TOPIC, value.model(), value.json())).get(SEND_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return sent;
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                LOG.warnf("could not send index value %s %s %s to Kafka (%s); retrying on the next run",
                        value.model(), value.hourStart(), value.status(), e.getMessage());
                return sent;
            }
            store.markPublished(value, clock.instant());
            sent++;
        }
        return sent;
    }
}
