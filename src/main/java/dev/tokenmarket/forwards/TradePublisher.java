package dev.tokenmarket.forwards;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.metering.KafkaTopics;
import dev.tokenmarket.platform.ClusterExclusive;
import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.Money;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Publishes every forward trade on {@code tokenmarket.forwards.trades.v1}, keyed by instrument, from the trades
 * table (the outbox): a trade is sent until Kafka acknowledges it, then stamped. The money of a trade already
 * moved in the matching transaction, so the event informs (and a consumer may re-derive the ledger entry,
 * whose id the event carries and which is idempotent on it); it settles nothing a second time.
 */
@ApplicationScoped
public class TradePublisher {

    public static final String TOPIC = "tokenmarket.forwards.trades.v1";
    private static final Logger LOG = Logger.getLogger(TradePublisher.class);
    private static final int SENDS_PER_RUN_MAX = 5_000;

    @Inject
    ClusterExclusive exclusive;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    KafkaSettings kafka;

    @Inject
    ObjectMapper json;

    private KafkaProducer<String, String> producer;

    void start(@Observes StartupEvent event) {
        KafkaTopics.create(kafka, new NewTopic(TOPIC, 8, kafka.replicationFactor()));
        Map<String, Object> settings = kafka.reliableProducer(java.time.Duration.ofSeconds(10));
        settings.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        producer = new KafkaProducer<>(settings, new StringSerializer(), new StringSerializer());
    }

    void stop(@Observes ShutdownEvent event) {
        if (producer != null) {
            producer.close(java.time.Duration.ofSeconds(2));
        }
    }

    @Scheduled(every = "${tokenmarket.forwards.publish-interval:1s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void run() {
        try {
            // One publisher at a time across processes, so no trade goes to Kafka twice side by side.
            exclusive.runAlone("forward trade publisher", this::publish);
        } catch (RuntimeException e) {
            LOG.warnf("could not publish forward trades (%s); retrying on the next run", e.getMessage());
        }
    }

    /** Sends the trades Kafka has not acknowledged yet, oldest first; answers how many it stamped. */
    synchronized int publish() {
        List<Long> ids = new ArrayList<>();
        List<Future<?>> sends = new ArrayList<>();
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement ps = c.prepareStatement("""
                    select t.id, i.symbol, t.price_nano_usd, t.quantity, t.taker_side, t.buyer_org_id, t.seller_org_id,
                           t.taker_order_id, t.maker_order_id, t.buyer_fee_nano_usd, t.seller_fee_nano_usd, t.created_at
                    from forward_trades t join forward_instruments i on i.id = t.instrument_id
                    where t.published_at is null order by t.id limit ?""")) {
                ps.setInt(1, SENDS_PER_RUN_MAX);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long id = rs.getLong(1);
                        boolean takerBuys = "buy".equals(rs.getString(5));
                        Map<String, Object> event = new LinkedHashMap<>();
                        event.put("trade_id", Long.toString(id));
                        event.put("instrument", rs.getString(2));
                        event.put("price", Money.formatUsd(rs.getLong(3)));
                        event.put("quantity", rs.getLong(4));
                        event.put("taker_side", rs.getString(5));
                        event.put("buyer_org_id", rs.getObject(6, UUID.class).toString());
                        event.put("seller_org_id", rs.getObject(7, UUID.class).toString());
                        event.put("buy_order_id", Long.toString(takerBuys ? rs.getLong(8) : rs.getLong(9)));
                        event.put("sell_order_id", Long.toString(takerBuys ? rs.getLong(9) : rs.getLong(8)));
                        event.put("buyer_fee", Money.formatUsd(rs.getLong(10)));
                        event.put("seller_fee", Money.formatUsd(rs.getLong(11)));
                        event.put("ledger_entry_id", UUID.nameUUIDFromBytes(("fwd-trade:" + id).getBytes(java.nio.charset.StandardCharsets.UTF_8)).toString());
                        event.put("created_at", rs.getTimestamp(12).toInstant().toString());
                        sends.add(producer.send(new ProducerRecord<>(TOPIC, rs.getString(2), json.writeValueAsString(event))));
                        ids.add(id);
                    }
                }
            }
            int acknowledged = 0;
            for (Future<?> send : sends) {
                try {
                    send.get(10, TimeUnit.SECONDS);
                    acknowledged++;
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    break;
                }
            }
            if (acknowledged > 0) {
                try (PreparedStatement ps = c.prepareStatement(
                        "update forward_trades set published_at = now() where id = any(?) and published_at is null")) {
                    ps.setArray(1, c.createArrayOf("bigint", ids.subList(0, acknowledged).toArray()));
                    ps.executeUpdate();
                }
            }
            return acknowledged;
        } catch (SQLException | JsonProcessingException e) {
            throw new IllegalStateException("could not publish forward trades", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }
}
