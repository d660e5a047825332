package dev.tokenmarket.metering;

import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.ProcessRole;
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
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * Publishes outbox rows to Kafka and deletes them once the broker acknowledged them. When Kafka is away,
 * rows wait in PostgreSQL and go out when it is back; nothing is lost, and a row published twice (a crash
 * between the ack and the delete) is settled once thanks to the ledger's idempotency.
 */
@ApplicationScoped
public class OutboxRelay {

    private static final Logger LOG = Logger.getLogger(OutboxRelay.class);
    private static final int BATCH_SIZE_MAX = 1_000;
    private static final long IDLE_WAIT_MS = 200;
    /** How long a woken relay waits for more events before publishing (a delay for settlement, not for requests). */
    private static final long LINGER_MS = 10;
    private static final long BACKOFF_MS_MAX = 5_000;
    private static final long SEND_TIMEOUT_MS = 15_000;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    KafkaSettings kafka;

    @Inject
    TransactionSynchronizationRegistry transactions;

    @Inject
    ProcessRole role;

    private final Semaphore wakeUp = new Semaphore(0);
    private volatile boolean running;
    private Thread thread;
    private KafkaProducer<String, String> producer;

    void start(@Observes StartupEvent event) {
        // The gateways fill the outbox, so they empty it; settlement processes have nothing to relay.
        if (!role.servesGateway()) {
            return;
        }
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 1,
                ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000,
                ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) SEND_TIMEOUT_MS,
                ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000),
                new StringSerializer(), new StringSerializer());
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
            producer.close(java.time.Duration.ofSeconds(5));
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

    /** A waiting event and where its row is ({@code ctid}: stable while this transaction holds its lock). */
    private record Row(String ctid, UUID eventId, UUID buyerOrgId, String payload) {
    }

    /** Publishes up to one batch of waiting rows; answers how many went out, or -1 when Kafka refused some. */
    int publishBatch() {
        return QuarkusTransaction.requiringNew().timeout(60).call(() -> {
            try (Connection c = dataSource.getConnection()) {
                List<Row> rows = new ArrayList<>();
                // The outbox is a queue: nearly empty whenever autovacuum counts it, full of rows deleted since
                // in between, so the planner's statistics call for a sequential scan that reads every dead
                // row. The partial index only holds waiting rows (and skips the deleted ones once seen).
                try (PreparedStatement ps = c.prepareStatement("set local enable_seqscan = off")) {
                    ps.execute();
                }
                // skip locked: several gateway replicas relay side by side without sending the same row.
                try (PreparedStatement ps = c.prepareStatement("""
                        select ctid::text, event_id, buyer_org_id, payload from usage_outbox
                        where published_at is null order by created_at limit ? for update skip locked""")) {
                    ps.setInt(1, BATCH_SIZE_MAX);
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            rows.add(new Row(rs.getString(1), rs.getObject(2, UUID.class), rs.getObject(3, UUID.class),
                                    rs.getString(4)));
                        }
                    }
                }
                if (rows.isEmpty()) {
                    return 0;
                }
                List<Future<RecordMetadata>> sends = new ArrayList<>(rows.size());
                for (Row row : rows) {
                    sends.add(producer.send(new ProducerRecord<>(UsageEvent.TOPIC, row.buyerOrgId.toString(), row.payload)));
                }
                List<String> acknowledged = new ArrayList<>(rows.size());
                IllegalStateException failure = null;
                for (int i = 0; i < rows.size(); i++) {
                    try {
                        sends.get(i).get(SEND_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                        acknowledged.add(rows.get(i).ctid);
                    } catch (Exception e) {
                        failure = new IllegalStateException("Kafka did not acknowledge usage event "
                                + rows.get(i).eventId + ": " + e.getMessage(), e);
                    }
                }
                // The acknowledged rows go even when others failed; the failed ones wait for the next round.
                deletePublished(c, acknowledged);
                if (failure != null) {
                    LOG.warn(failure.getMessage());
                    return -1;
                }
                return acknowledged.size();
            }
        });
    }

    /**
     * Removes the acknowledged rows (the outbox is a queue; the generations table is the record of usage) by
     * their row addresses: a TID scan reads just those rows, where a look-up by event id was planned as a
     * sequential scan of the dead rows (2.9 ms a call at 400 req/s, the costliest statement of the gateway).
     */
    private static void deletePublished(Connection c, List<String> ctids) throws SQLException {
        if (ctids.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("delete from usage_outbox where ctid = any(?::tid[])")) {
            ps.setArray(1, c.createArrayOf("text", ctids.toArray()));
            ps.executeUpdate();
        }
    }
}
