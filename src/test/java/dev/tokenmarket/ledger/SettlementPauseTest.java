package dev.tokenmarket.ledger;

import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import dev.tokenmarket.testing.UsageEvents;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pausing and resuming settlement of the usage feed, and how the consumer lag is counted. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class SettlementPauseTest {

    @Inject
    KafkaSettings kafka;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ConsumerLag consumerLag;

    @AfterEach
    void resumedAndBalanced() {
        as(ADMIN_KEY).post("/api/ledger/settlement/resume").then().statusCode(200);
        Market.assertLedgerBalanced();
    }

    private boolean posted(UUID entryId) throws Exception {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select 1 from journal_entries where id = ?")) {
            ps.setObject(1, entryId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    @Test
    void anEventSentWhileSettlementIsPausedIsSettledOnResumeAndOnlyThen() throws Exception {
        Org buyer = Market.org("paused buyer", "buyer");
        Org provider = Market.org("paused provider", "provider");
        Market.funded(buyer, "10.00");

        as(ADMIN_KEY).body(Map.of("reason", "database maintenance")).post("/api/ledger/settlement/pause").then()
                .statusCode(200).body("paused", equalTo(true)).body("reason", equalTo("database maintenance"));
        // In effect once every consumer thread of this replica has applied it, between two batches.
        await().atMost(Duration.ofSeconds(10)).until(() -> {
            Map<String, Integer> replica = as(ADMIN_KEY).get("/api/ledger/settlement").then().statusCode(200)
                    .extract().path("this_replica");
            return replica.get("consumers") > 0 && replica.get("consumers_paused").equals(replica.get("consumers"));
        });

        UsageEvent event = UsageEvents.event(buyer.id(), provider.id(), 10, 100);
        try (UsageEvents usage = new UsageEvents(kafka.bootstrapServers())) {
            UsageEvents.acknowledged(usage.send(event));
        }
        // Several of the consumers' polls and switch reads go by: the event waits, counted in the lag.
        Thread.sleep(3 * SettlementPause.REFRESH_NANOS / 1_000_000);
        assertFalse(posted(event.eventId()), "settled while paused");
        as(ADMIN_KEY).get("/api/ledger/settlement").then().statusCode(200)
                .body("paused", equalTo(true)).body("consumer_lag.total", org.hamcrest.Matchers.greaterThanOrEqualTo(1));
        assertEquals(0, usd(Market.balance(buyer).get("posted")).compareTo(usd("10.00")), "nothing paid while paused");

        as(ADMIN_KEY).post("/api/ledger/settlement/resume").then().statusCode(200).body("paused", equalTo(false));
        await().atMost(Duration.ofSeconds(30)).until(() -> posted(event.eventId()));
        assertEquals(0, usd(Market.balance(buyer).get("posted"))
                .compareTo(usd("10.00").subtract(usd(Money.formatUsd(event.costNanoUsd())))), "paid once, after resuming");
        String earned = as(provider.key()).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, usd(earned).compareTo(usd(Money.formatUsd(event.costNanoUsd() - event.feeNanoUsd()))),
                "the provider earned the cost less the fee: " + earned);
    }

    @Test
    void onlyAnAdminMayPauseAndABadReasonChangesNothing() {
        Org finance = Market.org("settlement finance", "finance");
        as(finance.key()).get("/api/ledger/settlement").then().statusCode(200).body("paused", equalTo(false));
        as(finance.key()).body(Map.of("reason", "month-end")).post("/api/ledger/settlement/pause").then()
                .statusCode(403).body("code", equalTo("forbidden"));
        as(ADMIN_KEY).body(Map.of("reason", "x".repeat(501))).post("/api/ledger/settlement/pause").then()
                .statusCode(400).body("code", equalTo("invalid_request")).body("detail", containsString("at most 500"));
        as(ADMIN_KEY).get("/api/ledger/settlement").then().statusCode(200).body("paused", equalTo(false));
    }

    @Test
    void lagCountsOnlyTheRecordsStillHeldWhereTheGroupNeverCommittedOrRetentionPassedItsCommit() throws Exception {
        String topic = "lag-test-" + UUID.randomUUID();
        String group = "lag-test-group-" + UUID.randomUUID();
        TopicPartition partition = new TopicPartition(topic, 0);
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()));
             KafkaProducer<String, String> producer = new KafkaProducer<>(Map.of(
                     ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()), new StringSerializer(), new StringSerializer())) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, "k", "v" + i)).get();
            }
            assertEquals(10, consumerLag.measure(topic, group).total(), "a group that never committed has all 10 to read");

            // Retention (here deleteRecords) removes the first 4: the group can only read the 6 left.
            admin.deleteRecords(Map.of(partition, RecordsToDelete.beforeOffset(4))).all().get();
            assertEquals(6, consumerLag.measure(topic, group).total());

            admin.alterConsumerGroupOffsets(group, Map.of(partition, new OffsetAndMetadata(2))).all().get();
            assertEquals(6, consumerLag.measure(topic, group).total(), "a commit behind the first record held");
            admin.alterConsumerGroupOffsets(group, Map.of(partition, new OffsetAndMetadata(8))).all().get();
            assertEquals(2, consumerLag.measure(topic, group).total());
            assertTrue(consumerLag.measure(topic, group).unavailableReason() == null);
        }
    }
}
