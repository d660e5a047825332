package dev.tokenmarket.ledger;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmarket.metering.UsageDeadLetters;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageEventCodec;
import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.ProcessRole;
import dev.tokenmarket.platform.TraceParents;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The Kafka feed of the ledger. Each poll batch is settled in one database transaction, and the consumer
 * offsets are committed only after that commit: a crash in between replays the batch, and the ledger's
 * idempotency on the event id posts nothing twice. A record the ledger cannot post goes to the dead-letter
 * topic (and table) with its reason, and the partition moves on.
 */
@ApplicationScoped
public class LedgerConsumer {

    private static final Logger LOG = Logger.getLogger(LedgerConsumer.class);
    public static final String GROUP_ID = "tokenmarket-ledger";
    private static final long BACKOFF_MS_MAX = 5_000;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** How many events a batch span covers (its links stand for at most 128 of them). */
    private static final AttributeKey<Long> EVENTS = AttributeKey.longKey("tokenmarket.events");

    @Inject
    KafkaSettings kafka;

    @Inject
    UsageSettlement settlement;

    @Inject
    Tracer tracer;

    @Inject
    UsageDeadLetters deadLetterStore;

    @Inject
    SettlementPause pause;

    @Inject
    LedgerMetrics metrics;

    @Inject
    ProcessRole role;

    /** Consumer threads in this process; partitions of the usage topic are spread over them. */
    @ConfigProperty(name = "tokenmarket.ledger.consumer-threads", defaultValue = "2")
    int threads;

    /** Records per poll, and so per settlement transaction. */
    @ConfigProperty(name = "tokenmarket.ledger.batch-size-max", defaultValue = "5000")
    int batchSizeMax;

    @ConfigProperty(name = "tokenmarket.ledger.consumer-enabled", defaultValue = "true")
    boolean enabled;

    private final List<Worker> workers = new ArrayList<>();
    private KafkaProducer<String, String> deadLetters;

    void start(@Observes StartupEvent event) {
        if (!enabled || !role.settles()) {
            LOG.infof("ledger consumer off (%s)", enabled ? "the gateway role settles nothing" : "disabled by configuration");
            return;
        }
        deadLetters = new KafkaProducer<>(kafka.reliableProducer(Duration.ofMinutes(2)),
                new StringSerializer(), new StringSerializer());
        for (int i = 0; i < threads; i++) {
            Worker worker = new Worker(i);
            workers.add(worker);
            worker.thread = Thread.ofPlatform().name("ledger-consumer-" + i).daemon().start(worker);
        }
    }

    void stop(@Observes ShutdownEvent event) {
        for (Worker worker : workers) {
            worker.running = false;
            worker.consumer.wakeup();
        }
        for (Worker worker : workers) {
            try {
                worker.thread.join(15_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (deadLetters != null) {
            deadLetters.close(Duration.ofSeconds(5));
        }
    }

    /** This process's consumer threads. */
    public int consumers() {
        return workers.size();
    }

    /** How many of this process's consumer threads have applied a pause (all of them once it is in effect). */
    public int consumersPaused() {
        return (int) workers.stream().filter(w -> w.paused).count();
    }

    private final class Worker implements Runnable {
        final KafkaConsumer<String, byte[]> consumer;
        volatile boolean running = true;
        Thread thread;

        Worker(int index) {
            Map<String, Object> config = kafka.client();
            config.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP_ID);
            config.put(ConsumerConfig.CLIENT_ID_CONFIG, "ledger-" + index + "-" + ProcessHandle.current().pid());
            config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
            config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
            config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, batchSizeMax);
            // At a low rate of events, a fetch waits up to 100 ms for 64 KB (about 200 events) instead of
            // returning each event alone: one settlement transaction per few dozen events rather than per
            // event, and an idle consumer asks the broker 10 times a second instead of 50. (Under load the
            // 64 KB are there at once; settlement latency stays far below its 1 s target.)
            config.put(ConsumerConfig.FETCH_MIN_BYTES_CONFIG, 64 * 1024);
            config.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
            // A partition is fetched again only once its buffered records are consumed; fetching several
            // batches' worth per partition keeps the next batch ready while this one is being settled.
            config.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 16 * 1024 * 1024);
            config.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, 64 * 1024 * 1024);
            // A member that vanished without leaving (a killed process) holds its partitions this long.
            config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
            config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 3_000);
            consumer = new KafkaConsumer<>(config, new StringDeserializer(), new ByteArrayDeserializer());
        }

        /** Whether this worker's partitions are paused (settlement switched off by an operator). */
        volatile boolean paused;

        @Override
        public void run() {
            long backoffMs = 100;
            try {
                consumer.subscribe(List.of(UsageEvent.TOPIC), new ConsumerRebalanceListener() {
                    @Override
                    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    }

                    @Override
                    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                        // Partitions taken over while paused stay paused.
                        if (paused) {
                            consumer.pause(partitions);
                        }
                    }
                });
                while (running) {
                    followSettlementSwitch();
                    ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(250));
                    if (records.isEmpty()) {
                        continue;
                    }
                    try {
                        settleAndCommit(consumer, records);
                        backoffMs = 100;
                    } catch (WakeupException e) {
                        throw e;
                    } catch (RuntimeException e) {
                        LOG.warnf(e, "settling %d usage events failed; they will be read again in %d ms",
                                records.count(), backoffMs);
                        rewind(consumer, records);
                        TimeUnit.MILLISECONDS.sleep(backoffMs);
                        backoffMs = Math.min(backoffMs * 2, BACKOFF_MS_MAX);
                    }
                }
            } catch (WakeupException e) {
                if (running) {
                    throw e;
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                consumer.close(Duration.ofSeconds(5));
            }
        }

        /**
         * Pauses or resumes this worker's partitions when the switch changed. A paused consumer still polls
         * (it stays in the group and keeps its partitions) but gets no records.
         */
        private void followSettlementSwitch() {
            boolean wanted = pause.paused();
            if (wanted == paused) {
                return;
            }
            paused = wanted;
            if (wanted) {
                consumer.pause(consumer.assignment());
            } else {
                consumer.resume(consumer.paused());
            }
            LOG.infof("ledger consumer %s %s settlement", Thread.currentThread().getName(), wanted ? "paused" : "resumed");
        }
    }

    private void settleAndCommit(KafkaConsumer<String, byte[]> consumer, ConsumerRecords<String, byte[]> records) {
        long startedNanos = System.nanoTime();
        List<UsageEvent> events = new ArrayList<>(records.count());
        List<byte[]> canonicalJson = new ArrayList<>(records.count());
        Map<UsageEvent, ConsumerRecord<String, byte[]>> sources = new IdentityHashMap<>(records.count());
        List<DeadLetter> dead = new ArrayList<>();
        for (ConsumerRecord<String, byte[]> record : records) {
            try {
                // Parsed from the record's bytes, without decoding them into a String first.
                if (record.value() == null) {
                    throw new UsageEventCodec.MalformedUsageEvent("the record has no value");
                }
                // Nearly always in the encoder's form, read at once; anything else by the general parser.
                UsageEvent canonical = UsageEventCodec.fromCanonicalJson(record.value());
                UsageEvent event = canonical != null ? canonical : UsageEventCodec.fromJson(record.value());
                events.add(event);
                canonicalJson.add(canonical != null ? record.value() : null);
                sources.put(event, record);
            } catch (UsageEventCodec.MalformedUsageEvent e) {
                dead.add(new DeadLetter(record, null, "unparseable: " + e.getMessage()));
            }
        }
        List<String> traceParents = new ArrayList<>(records.count());
        for (ConsumerRecord<String, byte[]> record : records) {
            Header traceParent = record.headers().lastHeader(TraceParents.HEADER);
            traceParents.add(traceParent == null ? null : new String(traceParent.value(), StandardCharsets.US_ASCII));
        }
        Span span = TraceParents.linkAll(tracer.spanBuilder("settle usage batch"), traceParents)
                .setAttribute(EVENTS, (long) records.count()).startSpan();
        UsageSettlement.Outcome outcome;
        try (Scope ignored = span.makeCurrent()) {
            outcome = settlement.settle(events, canonicalJson);
        } finally {
            span.end();
        }
        for (UsageSettlement.Rejected rejected : outcome.rejected()) {
            dead.add(new DeadLetter(sources.get(rejected.event()), rejected.event().eventId().toString(), rejected.reason()));
        }
        if (!dead.isEmpty()) {
            publishDeadLetters(dead);
            metrics.deadLettered(dead.size());
        }
        metrics.settled(records.count(), System.nanoTime() - startedNanos);
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (TopicPartition partition : records.partitions()) {
            List<ConsumerRecord<String, byte[]>> inPartition = records.records(partition);
            offsets.put(partition, new OffsetAndMetadata(inPartition.get(inPartition.size() - 1).offset() + 1));
        }
        // Asynchronous: the batch is already durable in PostgreSQL, and a commit lost to a crash or a
        // rebalance only means the batch is read again and posts nothing (the ledger is idempotent on the
        // event id). Waiting for the broker here used to take a third of a consumer thread's time.
        consumer.commitAsync(offsets, (committed, failure) -> {
            if (failure != null) {
                LOG.debugf("committing offsets %s failed (the records will be read again): %s", committed, failure.getMessage());
            }
        });
    }

    private static void rewind(KafkaConsumer<String, byte[]> consumer, ConsumerRecords<String, byte[]> records) {
        for (TopicPartition partition : records.partitions()) {
            consumer.seek(partition, records.records(partition).get(0).offset());
        }
    }

    private record DeadLetter(ConsumerRecord<String, byte[]> source, String eventId, String reason) {
        String payload() {
            // PostgreSQL text cannot hold NUL; a record carrying one must still reach the dead letters.
            return source.value() == null ? "" : new String(source.value(), StandardCharsets.UTF_8).replace('\u0000', '\uFFFD');
        }
    }

    /** Records dead letters in PostgreSQL (for finance's reports) and on the dead-letter topic, before offsets move on. */
    private void publishDeadLetters(List<DeadLetter> dead) {
        deadLetterStore.record(dead.stream().map(d -> new UsageDeadLetters.DeadLetter(d.eventId, d.source.topic(),
                d.source.partition(), d.source.offset(), d.reason, d.payload())).toList());
        List<java.util.concurrent.Future<?>> sends = new ArrayList<>();
        for (DeadLetter d : dead) {
            ObjectNode value = JSON.createObjectNode();
            value.put("reason", d.reason);
            value.put("event_id", d.eventId);
            ObjectNode source = value.putObject("source");
            source.put("topic", d.source.topic());
            source.put("partition", d.source.partition());
            source.put("offset", d.source.offset());
            value.put("failed_at", Instant.now().toString());
            value.put("payload", d.payload());
            sends.add(deadLetters.send(new ProducerRecord<>(UsageEvent.DEAD_LETTER_TOPIC, d.source.key(), value.toString())));
            LOG.warnf("usage record %s-%d@%d sent to the dead-letter topic: %s", d.source.topic(),
                    d.source.partition(), d.source.offset(), d.reason);
        }
        for (java.util.concurrent.Future<?> send : sends) {
            try {
                send.get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("could not publish a dead letter: " + e.getMessage(), e);
            }
        }
    }
}
