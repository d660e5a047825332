package dev.tokenmarket.ledger;

import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import dev.tokenmarket.testing.PackagedApplication;
import dev.tokenmarket.testing.UsageEvents;
import io.restassured.path.json.JsonPath;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The application killed (SIGKILL) while its ledger consumers settle a backlog, then started again; then
 * the whole usage topic replayed from offset zero. PostgreSQL and Kafka run in this test's JVM, so the
 * kill takes down only the application, as when a pod dies.
 */
class LedgerCrashIT {

    private static final String ADMIN_KEY = "crash-test-admin-key";
    private static final int BUYERS = 8;
    private static final int EVENTS = 40_000;

    @TempDir
    Path dataDirectory;

    private EmbeddedInfrastructure infrastructure;
    private PackagedApplication application;

    @AfterEach
    void stop() throws Exception {
        if (application != null) {
            application.stop();
        }
        if (infrastructure != null) {
            infrastructure.close();
        }
    }

    private long usageEntries() throws Exception {
        Map<String, String> config = infrastructure.configuration();
        try (Connection c = DriverManager.getConnection(config.get("quarkus.datasource.jdbc.url"),
                config.get("quarkus.datasource.username"), config.get("quarkus.datasource.password"));
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("select count(*) from journal_entries where code = 'usage'")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private void awaitAllSettled() {
        await().atMost(Duration.ofSeconds(240)).pollInterval(Duration.ofMillis(500)).until(() ->
                usageEntries() == EVENTS && Integer.valueOf(0).equals(application.as(ADMIN_KEY)
                        .get("/api/ledger/reconciliation").then().statusCode(200).extract().path("consumer_lag.total")));
    }

    @Test
    void killedMidBatchThenRestartedPostsEveryEventOnceAndAFullReplayChangesNothing() throws Exception {
        // Proves offsets follow the database commit: a crash re-reads a batch, and re-reading posts nothing twice.
        infrastructure = EmbeddedInfrastructure.start(dataDirectory.resolve("infra"), true, true);
        application = new PackagedApplication(Map.of(
                "TOKENMARKET_DATA_DIR", dataDirectory.resolve("app").toString(),
                "TOKENMARKET_ADMIN_KEY", ADMIN_KEY), infrastructure.configuration());
        application.start();

        String provider = application.as(ADMIN_KEY).body(Map.of("name", "crash provider", "roles", List.of("provider")))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        List<String> buyers = new ArrayList<>();
        for (int b = 0; b < BUYERS; b++) {
            String buyer = application.as(ADMIN_KEY).body(Map.of("name", "crash buyer " + b, "roles", List.of("buyer")))
                    .post("/api/orgs").then().statusCode(201).extract().path("id");
            application.as(ADMIN_KEY).header("Idempotency-Key", "crash-" + b)
                    .body(Map.of("org_id", buyer, "amount", "1000.00", "reference", "crash test"))
                    .post("/api/ledger/deposits").then().statusCode(201);
            buyers.add(buyer);
        }
        Map<String, Long> costByBuyer = new HashMap<>();
        Random random = new Random(7);
        // The events wait as a backlog while they are produced: settlement, faster than the producer, would
        // otherwise post them all before the kill could come.
        application.setSettlementPaused(ADMIN_KEY, true);
        try (UsageEvents usage = new UsageEvents(infrastructure.kafka().bootstrapServers())) {
            for (int i = 0; i < EVENTS; i++) {
                String buyer = buyers.get(i % BUYERS);
                UsageEvent e = UsageEvents.event(buyer, provider, 1 + random.nextInt(50), 1 + random.nextInt(256));
                costByBuyer.merge(buyer, e.costNanoUsd(), Long::sum);
                usage.send(e);
            }
            usage.flush();
        }
        application.setSettlementPaused(ADMIN_KEY, false);

        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(20)).until(() -> usageEntries() > 0);
        application.kill();
        long postedAtKill = usageEntries();
        System.out.printf("killed the application with %d of %d usage events posted%n", postedAtKill, EVENTS);
        assertTrue(postedAtKill < EVENTS, "the kill came while events were still being settled (" + postedAtKill + " posted)");

        application.start();
        awaitAllSettled();
        assertBalances(buyers, costByBuyer);
        String trialBalanceBefore = application.as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200)
                .extract().asString();

        // Replay: with the application stopped its consumers have left the group, so its offsets can be reset.
        application.stop();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, infrastructure.kafka().bootstrapServers()))) {
            int partitions = admin.describeTopics(List.of(UsageEvent.TOPIC)).allTopicNames().get(30, TimeUnit.SECONDS)
                    .get(UsageEvent.TOPIC).partitions().size();
            Map<TopicPartition, OffsetAndMetadata> zero = new HashMap<>();
            for (int p = 0; p < partitions; p++) {
                zero.put(new TopicPartition(UsageEvent.TOPIC, p), new OffsetAndMetadata(0));
            }
            admin.alterConsumerGroupOffsets(LedgerConsumer.GROUP_ID, zero).all().get(30, TimeUnit.SECONDS);
        }
        application.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> !Integer.valueOf(0).equals(application.as(ADMIN_KEY)
                .get("/api/ledger/reconciliation").then().extract().path("consumer_lag.total"))
                || usageEntries() == EVENTS);
        awaitAllSettled();
        assertEquals(trialBalanceBefore, application.as(ADMIN_KEY).get("/api/ledger/trial-balance").then().extract().asString(),
                "replaying the whole topic changed no balance");
        assertBalances(buyers, costByBuyer);
    }

    private void assertBalances(List<String> buyers, Map<String, Long> costByBuyer) {
        assertEquals(EVENTS, application.as(ADMIN_KEY).get("/api/ledger/reconciliation").then().statusCode(200)
                .extract().jsonPath().getInt("usage.entries_without_metering"), "every event posted once");
        for (String buyer : buyers) {
            JsonPath accounts = application.as(ADMIN_KEY).queryParam("org_id", buyer).get("/api/ledger/accounts")
                    .then().statusCode(200).extract().jsonPath();
            assertEquals(Money.formatUsd(1_000 * Money.NANO_PER_USD - costByBuyer.get(buyer)),
                    accounts.getString("accounts.find { it.kind == 'buyer_wallet' }.balance"), "wallet of " + buyer);
        }
        application.as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200).body("difference", equalTo("0.00"));
        application.as(ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200).body("consistent", equalTo(true));
    }
}
