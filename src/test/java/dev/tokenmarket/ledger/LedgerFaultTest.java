package dev.tokenmarket.ledger;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageEventCodec;
import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import dev.tokenmarket.testing.UsageEvents;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ledger under faults, on the real broker and database: duplicates, concurrent holds, a broker
 * restart while usage flows, and poison messages. (A killed application and a full replay are in
 * LedgerCrashIT, which needs the packaged application in its own process.)
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class LedgerFaultTest {

    @Inject
    KafkaSettings kafka;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    SpotHolds spotHolds;

    @Inject
    LedgerAccounts accounts;

    @AfterEach
    void ledgerStillBalances() {
        Market.assertLedgerBalanced();
    }

    /** How many of these entry ids are posted. */
    private long postedCount(List<UUID> entryIds) throws Exception {
        return count("journal_entries", "id", entryIds);
    }

    /** Rows of {@code table} whose {@code column} is one of {@code ids}; both names are the test's own constants. */
    private long count(String table, String column, List<UUID> ids) throws Exception {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select count(*) from " + table + " where " + column + " = any(?)")) {
            ps.setArray(1, c.createArrayOf("uuid", ids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private static void awaitNoConsumerLag() {
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(() ->
                Integer.valueOf(0).equals(as(ADMIN_KEY).get("/api/ledger/reconciliation").then().statusCode(200)
                        .extract().path("consumer_lag.total")));
    }

    @Test
    void tenPercentDuplicateEventsPostNothingTwice() throws Exception {
        // Proves idempotency on the event id: 1,000 events plus 100 re-sent copies move money exactly once.
        Org buyer = Market.org("dup buyer", "buyer");
        Org provider = Market.org("dup provider", "provider");
        Market.funded(buyer, "100.00");
        Random random = new Random(42);
        List<UsageEvent> events = new ArrayList<>();
        long cost = 0;
        long providerShare = 0;
        try (UsageEvents usage = new UsageEvents(kafka.bootstrapServers())) {
            for (int i = 0; i < 1_000; i++) {
                UsageEvent e = UsageEvents.event(buyer.id(), provider.id(), 1 + random.nextInt(20), 1 + random.nextInt(200));
                events.add(e);
                cost += e.costNanoUsd();
                providerShare += e.costNanoUsd() - e.feeNanoUsd();
                usage.send(e);
                if (i % 10 == 9) {
                    usage.send(events.get(random.nextInt(events.size())));
                }
            }
            usage.flush();
        }
        List<UUID> ids = events.stream().map(UsageEvent::eventId).toList();
        await().atMost(Duration.ofSeconds(60)).until(() -> postedCount(ids) == ids.size());
        awaitNoConsumerLag();

        assertEquals(1_000, postedCount(ids));
        Map<String, String> wallet = Market.balance(buyer);
        assertEquals(0, usd(wallet.get("posted")).compareTo(usd("100.00").subtract(usd(Money.formatUsd(cost)))),
                "the wallet paid each event once: " + wallet);
        String payable = as(provider.key()).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, usd(payable).compareTo(usd(Money.formatUsd(providerShare))));
    }

    /** A pending hold of 0.10 USD on the buyer's wallet, open for 10 minutes, as the gateway places before serving. */
    private UUID tenCentHold(Org buyer, String reference) {
        UUID holdId = UUID.randomUUID();
        spotHolds.place(holdId, accounts.walletOf(UUID.fromString(buyer.id())), 100_000_000L, reference,
                Duration.ofMinutes(10));
        return holdId;
    }

    @Test
    void aUsageEventWhoseHoldIsStillPendingCapturesItOnceAndReleasesTheRest() throws Exception {
        // Normally the gateway moves a hold to settling when it meters the request; an event that arrives
        // while its hold is still pending must capture it all the same (and only once, even when re-sent),
        // not stall its partition.
        Org buyer = Market.org("pending-hold buyer", "buyer");
        Org provider = Market.org("pending-hold provider", "provider");
        Market.funded(buyer, "1.00");
        UUID holdId = tenCentHold(buyer, "pending-hold test");
        assertEquals(0, usd(Market.balance(buyer).get("held")).compareTo(usd("0.10")));
        UsageEvent event = UsageEvents.event(buyer.id(), provider.id(), 10, 100, holdId);
        try (UsageEvents usage = new UsageEvents(kafka.bootstrapServers())) {
            UsageEvents.acknowledged(usage.send(event));
            UsageEvents.acknowledged(usage.send(event));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> postedCount(List.of(event.eventId())) == 1);
        awaitNoConsumerLag();

        Map<String, String> wallet = Market.balance(buyer);
        assertEquals(0, usd(wallet.get("held")).signum(), "the rest of the hold is released: " + wallet);
        assertEquals(0, usd(wallet.get("posted")).compareTo(usd("1.00").subtract(usd(Money.formatUsd(event.costNanoUsd())))),
                "the event is paid once: " + wallet);
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select status, captured_nano_usd from hold_states where id = ?")) {
            ps.setObject(1, holdId);
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                assertEquals("captured", rs.getString(1));
                assertEquals(event.costNanoUsd(), rs.getLong(2));
            }
        }
    }

    @Test
    void eventsNamingAHoldAnotherEventCapturedPostWithoutCapturingItAgain() throws Exception {
        // A hold is captured once. A second event naming it (a gateway bug, a hand-made event) is still
        // paid, but captures and releases nothing more: whether it comes in the same batch as the first or
        // after the first was settled (then settlement's optimistic COPY of captures meets the captured
        // hold, and the batch is written again with a look-up).
        Org buyer = Market.org("shared-hold buyer", "buyer");
        Org provider = Market.org("shared-hold provider", "provider");
        Market.funded(buyer, "1.00");
        UUID holdId = tenCentHold(buyer, "shared-hold test");
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            events.add(UsageEvents.event(buyer.id(), provider.id(), 10 + i, 100, holdId));
        }
        List<UUID> ids = events.stream().map(UsageEvent::eventId).toList();
        try (UsageEvents usage = new UsageEvents(kafka.bootstrapServers())) {
            UsageEvents.acknowledged(usage.send(events.get(0)));
            UsageEvents.acknowledged(usage.send(events.get(1)));
            await().atMost(Duration.ofSeconds(30)).until(() -> postedCount(ids.subList(0, 2)) == 2);
            UsageEvents.acknowledged(usage.send(events.get(2)));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> postedCount(ids) == 3);
        awaitNoConsumerLag();

        long paid = events.stream().mapToLong(UsageEvent::costNanoUsd).sum();
        Map<String, String> wallet = Market.balance(buyer);
        assertEquals(0, usd(wallet.get("held")).signum(), "the hold is released once, not three times: " + wallet);
        assertEquals(0, usd(wallet.get("posted")).compareTo(usd("1.00").subtract(usd(Money.formatUsd(paid)))),
                "each event is paid once: " + wallet);
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "select status, captured_nano_usd, capture_entry_id from hold_states where id = ?")) {
            ps.setObject(1, holdId);
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                assertEquals("captured", rs.getString(1));
                assertEquals(events.get(0).costNanoUsd(), rs.getLong(2), "captured for the first event's cost");
                assertEquals(ids.get(0), rs.getObject(3, UUID.class), "by the first event");
            }
        }
    }

    @Test
    void hundredConcurrentRequestsAgainstAWalletThatAffordsTenServeExactlyTen() throws Exception {
        // Proves the hold check is exact under concurrency: 10 served, 90 refused, never below zero.
        Org buyer = Market.org("race buyer", "buyer");
        Org provider = Market.org("race provider", "provider");
        // 20 completion tokens at 0.01 USD each: every request costs exactly its 0.20 USD hold (the golden
        // text runs for 255 tokens, so 20 are always produced), so timing cannot let an eleventh through.
        String endpoint = Market.endpoint(provider, "0.00", "10000.00", 100, 200, 128);
        Market.funded(buyer, "2.00");
        Map<String, Object> request = Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 20, "temperature", 0,
                "provider", Market.only(endpoint));

        AtomicBoolean running = new AtomicBoolean(true);
        ConcurrentLinkedQueue<String> negativeSeen = new ConcurrentLinkedQueue<>();
        Thread watcher = Thread.ofPlatform().start(() -> {
            while (running.get()) {
                Map<String, String> b = Market.balance(buyer);
                if (usd(b.get("available")).signum() < 0 || usd(b.get("posted")).signum() < 0) {
                    negativeSeen.add(b.toString());
                }
            }
        });
        ExecutorService pool = Executors.newFixedThreadPool(100);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<Response>> responses = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            responses.add(pool.submit(() -> {
                start.await();
                return as(buyer.key()).body(request).post("/v1/completions");
            }));
        }
        start.countDown();
        int served = 0;
        int refused = 0;
        List<Generation> generations = new ArrayList<>();
        for (Future<Response> response : responses) {
            int code = response.get(120, TimeUnit.SECONDS).statusCode();
            if (code == 200) {
                generations.add(Market.billed(response.get(), "0.00", "10000.00"));
                served++;
            } else if (code == 402) {
                refused++;
            } else {
                throw new AssertionError("unexpected status " + code);
            }
        }
        pool.shutdown();
        Market.awaitSettled(buyer);
        running.set(false);
        watcher.join();

        assertEquals(10, served);
        assertEquals(90, refused);
        assertEquals("0.00", Market.balance(buyer).get("posted"));
        Market.assertSettled(buyer, "2.00", provider, generations);
        assertTrue(negativeSeen.isEmpty(), "the wallet went negative: " + negativeSeen);
    }

    @Test
    void brokerRestartWhileUsageFlowsLosesAndDoublesNothing() throws Exception {
        // Proves the outbox carries usage across a broker outage: every served request is settled once.
        Org buyer = Market.org("outage buyer", "buyer");
        Org provider = Market.org("outage provider", "provider");
        String endpoint = Market.endpoint(provider, "100.00", "200.00");
        Market.funded(buyer, "10.00");
        List<String> generations = new ArrayList<>();
        long costNanoUsd = 0;
        for (int i = 0; i < 30; i++) {
            if (i == 10) {
                TokenmarketInfrastructure.embedded().kafka().stopServer();
            }
            if (i == 20) {
                // The outage is real: the events of the requests served meanwhile wait in the outbox.
                int unpublished = as(ADMIN_KEY).get("/api/ledger/reconciliation").then().extract().path("outbox.unpublished");
                assertTrue(unpublished > 0, "usage events wait in the outbox while the broker is down");
                TokenmarketInfrastructure.embedded().kafka().resume();
            }
            if (i >= 10 && i < 20) {
                Thread.sleep(300);
            }
            Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "Once", "max_tokens", 8,
                    "provider", Market.only(endpoint))).post("/v1/completions");
            assertEquals(200, response.statusCode(), "requests are served while the broker is down: " + response.asString());
            generations.add(response.path("id"));
            costNanoUsd += Money.parseUsd(response.path("usage.cost"), "cost");
        }
        List<UUID> ids = generations.stream().map(id -> UUID.fromString(id.substring("gen-".length()))).toList();
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250)).until(() -> postedCount(ids) == ids.size());
        Market.awaitSettled(buyer);
        awaitNoConsumerLag();

        assertEquals(30, postedCount(ids));
        assertEquals(0, usd(Market.balance(buyer).get("posted")).compareTo(usd("10.00").subtract(usd(Money.formatUsd(costNanoUsd)))));
        // The outbox is a queue: once Kafka acknowledged an event, its row is gone (the generation is the record).
        await().atMost(Duration.ofSeconds(10)).until(() -> count("usage_outbox", "event_id", ids) == 0);
        assertEquals(30, count("generations", "id", ids));
    }

    @Test
    void aUsageEntryNamesItsModelExactlyWhateverCharactersTheNameHas() throws Exception {
        // Proves the entry finance reads names the model as the event did: accented and CJK letters, quotes,
        // a backslash, a tab and a line break pass through the bulk write and the entry's JSON metadata
        // unchanged, and such a name neither fails the event nor stops its partition.
        Org buyer = Market.org("model-name buyer", "buyer");
        Org provider = Market.org("model-name provider", "provider");
        Market.funded(buyer, "1.00");
        String model = "modèle \"ünïcode\" 模型 C:\\models\tv2\nfinal";
        UsageEvent event = UsageEvents.event(model, buyer.id(), provider.id(), 10, 100);
        UsageEvent next = UsageEvents.event(buyer.id(), provider.id(), 1, 1);
        try (UsageEvents usage = new UsageEvents(kafka.bootstrapServers())) {
            usage.send(event);
            UsageEvents.acknowledged(usage.send(next));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> postedCount(List.of(event.eventId(), next.eventId())) == 2);

        Response entry = as(ADMIN_KEY).get("/api/ledger/entries/" + event.eventId()).then().statusCode(200).extract().response();
        assertEquals("usage of " + model + ": 10 prompt + 100 completion tokens", entry.path("description"));
        Map<?, ?> metadata = new ObjectMapper().readValue(entry.<String>path("metadata"), Map.class);
        assertEquals(model, metadata.get("model"));
        assertEquals(100, metadata.get("completion_tokens"));
        assertEquals(0, usd(Market.balance(buyer).get("posted")).compareTo(usd("1.00")
                .subtract(usd(Money.formatUsd(event.costNanoUsd()))).subtract(usd(Money.formatUsd(next.costNanoUsd())))));
    }

    @Test
    void poisonMessagesGoToTheDeadLetterTopicWithTheirReasonAndTheFeedMovesOn() throws Exception {
        // Proves a bad record is set aside with its reason, visible to finance, without stopping its partition.
        Org buyer = Market.org("poison buyer", "buyer");
        Org provider = Market.org("poison provider", "provider");
        Market.funded(buyer, "1.00");
        UsageEvent unknownBuyer = UsageEvents.event(UUID.randomUUID().toString(), provider.id(), 1, 1);
        UsageEvent wrongSum = UsageEvents.event(buyer.id(), provider.id(), 5, 5);
        String wrongSumJson = UsageEventCodec.toJson(wrongSum).replace("\"cost\":\"" + Money.formatUsd(wrongSum.costNanoUsd()) + "\"",
                "\"cost\":\"" + Money.formatUsd(wrongSum.costNanoUsd() + 1) + "\"");
        UsageEvent nulInModel = UsageEvents.event("stories\u0000260k", buyer.id(), provider.id(), 5, 5);
        UsageEvent good = UsageEvents.event(buyer.id(), provider.id(), 5, 5);
        try (UsageEvents usage = new UsageEvents(kafka.bootstrapServers())) {
            // Same key, so the same partition: the good event comes after the four bad ones.
            usage.sendRaw(buyer.id(), "{not json");
            usage.sendRaw(buyer.id(), UsageEventCodec.toJson(unknownBuyer));
            usage.sendRaw(buyer.id(), wrongSumJson);
            usage.send(nulInModel);
            UsageEvents.acknowledged(usage.send(good));
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> postedCount(List.of(good.eventId())) == 1);
        assertEquals(0, postedCount(List.of(unknownBuyer.eventId(), wrongSum.eventId(), nulInModel.eventId())));

        List<ConsumerRecord<String, String>> dead = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "dlq-reader-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(UsageEvent.DEAD_LETTER_TOPIC));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (dead.size() < 4 && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(r -> {
                    if (buyer.id().equals(r.key())) {
                        dead.add(r);
                    }
                });
            }
        }
        assertEquals(4, dead.size(), "four dead letters for this buyer's partition");
        assertTrue(dead.get(0).value().contains("unparseable"), dead.get(0).value());
        assertTrue(dead.get(1).value().contains(unknownBuyer.eventId().toString()), dead.get(1).value());
        assertTrue(dead.get(2).value().contains("do not add up"), dead.get(2).value());
        assertTrue(dead.get(3).value().contains("NUL character"), dead.get(3).value());

        List<Map<String, Object>> listed = as(ADMIN_KEY).get("/api/ledger/reconciliation").then().statusCode(200)
                .extract().jsonPath().getList("dead_letters.first");
        assertTrue(listed.stream().anyMatch(d -> wrongSum.eventId().toString().equals(d.get("event_id"))
                && String.valueOf(d.get("reason")).contains("do not add up")), "finance sees the reason: " + listed);
        assertEquals(0, usd(Market.balance(buyer).get("posted")).compareTo(
                usd("1.00").subtract(usd(Money.formatUsd(good.costNanoUsd())))));
    }
}
