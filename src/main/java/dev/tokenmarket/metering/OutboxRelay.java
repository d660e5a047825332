package dev.tokenmarket.metering;

import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.ProcessRole;
import dev.tokenmarket.platform.TraceParents;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.agroal.api.AgroalDataSource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.transaction.Status;
import jakarta.transaction.Synchronization;
import jakarta.transaction.TransactionSynchronizationRegistry;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Publishes outbox rows to Kafka and deletes them once the broker acknowledged them. When Kafka is away,
 * rows wait in PostgreSQL and go out when it is back; nothing is lost, and a row published twice (a crash
 * between the ack and the delete) is settled once thanks to the ledger's idempotency.
 */
@ApplicationScoped
public class OutboxRelay {

    private static final Logger LOG = Logger.getLogger(OutboxRelay.class);
    private static final int BATCH_SIZE_MAX = 1_000;
    /** The advisory lock the relaying process holds for the length of a batch's transaction. */
    private static final AttributeKey<Long> EVENTS = AttributeKey.longKey("tokenmarket.events");
    private static final long RELAY_LOCK = 0x746d_6f75_7462_6f78L;
    private static final long IDLE_WAIT_MS = 200;
    /** How long a woken relay waits for more events before publishing (a delay for settlement, not for requests). */
    private static final long LINGER_MS = 10;
    private static final long BACKOFF_MS_MAX = 5_000;
    private static final long SEND_TIMEOUT_MS = 15_000;
    /** Room for a whole outbox batch's events of one partition (about 0.5 KB each) in one produce request. */
    private static final int PRODUCE_BATCH_BYTES = 512 * 1024;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    KafkaSettings kafka;

    @Inject
    TransactionSynchronizationRegistry transactions;

    @Inject
    ProcessRole role;

    @Inject
    Tracer tracer;

    private final Semaphore wakeUp = new Semaphore(0);
    private volatile boolean running;
    private Thread thread;
    private KafkaProducer<String, byte[]> producer;

    void start(@Observes StartupEvent event) {
        // The gateways fill the outbox, so they empty it; settlement processes have nothing to relay.
        if (!role.servesGateway()) {
            return;
        }
        Map<String, Object> settings = kafka.reliableProducer(Duration.ofMillis(SEND_TIMEOUT_MS));
        // A batch of the outbox goes out as one produce request per partition: the relay sends it whole and
        // flushes, so the linger never delays it; without room for a whole batch per partition, a 1,000-row
        // batch took about seven round trips to the broker one after the other (16 KB batches, five in flight).
        settings.put(ProducerConfig.BATCH_SIZE_CONFIG, PRODUCE_BATCH_BYTES);
        settings.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        producer = new KafkaProducer<>(settings, new StringSerializer(), new ByteArraySerializer());
        running = true;
        thread = Thread.ofPlatform().name("usage-outbox-relay").daemon().start(this::run);
    }

    void stop(@Observes ShutdownEvent event) {
        running = false;
        wakeUp.release();
        if (thread != null) {
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }

    /** Wakes the relay now: events were just committed outside a JTA transaction. */
    void wakeUp() {
        wakeUp.release();
    }

    /** Wakes the relay once the current transaction commits, so a finished request's event goes out at once. */
    void nudgeAfterCommit() {
        transactions.registerInterposedSynchronization(new Synchronization() {
            @Override
            public void beforeCompletion() {
            }

            @Override
            public void afterCompletion(int status) {
                if (status == Status.STATUS_COMMITTED) {
                    wakeUp.release();
                }
            }
        });
    }

    private void run() {
        long backoffMs = 100;
        while (running) {
            try {
                int published = publishBatch();
                if (published < 0) {
                    Thread.sleep(backoffMs);
                    backoffMs = Math.min(backoffMs * 2, BACKOFF_MS_MAX);
                    continue;
                }
                backoffMs = 100;
                if (published < BATCH_SIZE_MAX) {
                    if (wakeUp.tryAcquire(IDLE_WAIT_MS, TimeUnit.MILLISECONDS)) {
                        // Woken by a commit: the requests finishing in the next few milliseconds go out in the
                        // same transaction, instead of a transaction (and a broker round trip) per request.
                        Thread.sleep(LINGER_MS);
                    }
                    wakeUp.drainPermits();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.warnf("usage events wait in the outbox: %s; retrying in %d ms", e.getMessage(), backoffMs);
                try {
                    Thread.sleep(backoffMs);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return;
                }
                backoffMs = Math.min(backoffMs * 2, BACKOFF_MS_MAX);
            }
        }
    }

    /** A waiting event taken from the outbox. */
    private record Row(UUID eventId, UUID buyerOrgId, byte[] payload, String traceParent) {
    }

    /** Kafka did not acknowledge every event of a batch: the transaction that took them rolls back. */
    private static final class NotAcknowledged extends RuntimeException {
        NotAcknowledged(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Publishes up to one batch of waiting rows; answers how many went out, 0 when another process is
     * relaying, or -1 when Kafka did not acknowledge them all.
     */
    int publishBatch() {
        try {
            return QuarkusTransaction.requiringNew().timeout(60).call(this::takeAndPublish);
        } catch (NotAcknowledged e) {
            LOG.warn(e.getMessage());
            return -1;
        }
    }

    /**
     * Takes a batch out of the outbox and sends it; the deletion commits only once Kafka acknowledged every
     * event of it, and a refusal rolls it back whole (the acknowledged ones are sent again and settled once,
     * by the ledger's idempotency on the event id). Deleting while taking writes each row once; a row lock
     * first and a deletion after it wrote each twice (2.3 KB of WAL per relayed event against 1.3 KB for
     * the ledger's own writes).
     */
    private int takeAndPublish() throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            // One relay at a time across replicas: rows taken by a deletion stay visible to other
            // transactions until it commits, so two relays side by side would block on each other's rows.
            try (PreparedStatement ps = c.prepareStatement("select pg_try_advisory_xact_lock(?)")) {
                ps.setLong(1, RELAY_LOCK);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        return 0;
                    }
                }
            }
            // The outbox is a queue: nearly empty whenever autovacuum counts it, full of rows deleted since
            // in between, so the planner's statistics call for a sequential scan that reads every dead
            // row. The partial index only holds waiting rows (and skips the deleted ones once seen).
            try (PreparedStatement ps = c.prepareStatement("set local enable_seqscan = off")) {
                ps.execute();
            }
            List<Row> rows = new ArrayList<>();
            // By row address (a TID scan of just those rows): by event id, the deletion was planned as a
            // sequential scan of the dead rows.
            try (PreparedStatement ps = c.prepareStatement("""
                    delete from usage_outbox where ctid = any(array(
                        select ctid from usage_outbox where published_at is null order by created_at limit ?))
                    returning event_id, buyer_org_id, payload, trace_parent""")) {
                ps.setInt(1, BATCH_SIZE_MAX);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        // The text as PostgreSQL sent it (UTF-8): the encoder's bytes, without a String between.
                        rows.add(new Row(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getBytes(3),
                                rs.getString(4)));
                    }
                }
            }
            if (rows.isEmpty()) {
                return 0;
            }
            Span span = TraceParents.linkAll(tracer.spanBuilder("relay usage events"),
                    rows.stream().map(Row::traceParent).toList()).setAttribute(EVENTS, (long) rows.size()).startSpan();
            try (Scope ignored = span.makeCurrent()) {
                List<Future<RecordMetadata>> sends = new ArrayList<>(rows.size());
                for (Row row : rows) {
                    ProducerRecord<String, byte[]> record = new ProducerRecord<>(UsageEvent.TOPIC, row.buyerOrgId.toString(), row.payload);
                    if (row.traceParent != null) {
                        record.headers().add(TraceParents.HEADER, row.traceParent.getBytes(StandardCharsets.US_ASCII));
                    }
                    sends.add(producer.send(record));
                }
                producer.flush();
                for (int i = 0; i < rows.size(); i++) {
                    try {
                        sends.get(i).get(SEND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    } catch (ExecutionException | TimeoutException e) {
                        span.setStatus(StatusCode.ERROR, "not acknowledged");
                        throw new NotAcknowledged("Kafka did not acknowledge usage event " + rows.get(i).eventId
                                + " (" + e.getMessage() + "): its batch of " + rows.size() + " waits in the outbox", e);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new NotAcknowledged("interrupted while Kafka acknowledged usage events", e);
                    }
                }
            } finally {
                span.end();
            }
            return rows.size();
        }
    }
}
