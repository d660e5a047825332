package dev.tokenmarket.platform;

import dev.tokenmarket.identity.KeyAuthenticator;
import dev.tokenmarket.ledger.LedgerConsumer;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.PackagedApplication;
import dev.tokenmarket.testing.TestUpstream;
import io.restassured.response.Response;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.math.BigDecimal;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Scale-out with real processes: one PostgreSQL and one Kafka broker (started here), two gateway and two
 * settlement processes of the packaged application, then a third gateway. Shows that one buyer's wallet and
 * key spend limit hold exactly while both gateways serve it, that a SIGKILLed settlement process's partitions
 * move to the other with no event lost or doubled, that a price change and a revoked key apply on both gateways
 * within their bounds, that an endpoint's max_concurrency holds across the gateways however many there are, that a
 * SIGKILLed gateway's concurrency slots move to the survivors within the lease TTL, that an endpoint's
 * tokens_per_minute holds for both gateways together (within the tolerance stated at its step), and that a broker
 * outage leaves the gateways ready (and the settlement processes not) while a database outage takes the gateways
 * out of service.
 */
class ScaleOutIT {

    private static final String ADMIN_KEY = "scale-out-admin-key";
    private static final String MODEL = Market.MODEL;
    private static final String CAPACITY_MODEL = "scale-out-capacity";
    // USD per 1M tokens, with digits down to the nano-USD so that most costs are rounded.
    private static final String PROMPT_PRICE = "1000.123456789";
    private static final String COMPLETION_PRICE = "2000.987654321";
    private static final String NEW_PROMPT_PRICE = "1500.5";
    private static final String NEW_COMPLETION_PRICE = "2500.25";
    private static final String CAPACITY_PRICE = "1.5";
    private static final String DEPOSIT = "1.00";
    private static final String KEY_SPEND_LIMIT = "0.30";
    private static final int MAX_TOKENS = 8;
    private static final int MAX_CONCURRENCY = 8;
    /** What the router promises: its catalog snapshot is at most 2 s old, plus the time of one catalog read. */
    private static final Duration CATALOG_BOUND = Duration.ofMillis(2_500);
    private static final Duration UPSTREAM_HOLD = Duration.ofMillis(600);
    private static final int USAGE_PARTITIONS = 8;
    private static final Duration HEARTBEAT = Duration.ofSeconds(1);
    /** How long a capacity lease counts without renewal: a dead gateway's slots are free again this long after it died. */
    private static final Duration LEASE_TTL = Duration.ofSeconds(5);
    /** The killed gateway's requests are held at the upstream past the kill, so that none of them is answered. */
    private static final Duration KILLED_UPSTREAM_HOLD = Duration.ofSeconds(3);
    private static final String TOKENS_MODEL = "scale-out-tokens";
    /**
     * Large enough that each gateway alone takes over twice two heartbeat intervals to reach it at the paced rate
     * (below): counted per gateway, the total would then exceed the limit plus the tolerance.
     */
    private static final int TOKENS_PER_MINUTE = 1_200;
    private static final int TOKENS_CLIENTS_PER_GATEWAY = 2;
    private static final int TOKENS_MAX_TOKENS = 32;
    /** Each client sends at most one token-limit request per interval, so a gateway serves at most 8 per second. */
    private static final Duration TOKENS_REQUEST_INTERVAL = Duration.ofMillis(250);
    /** The token-limit phase starts only with this much of the minute left, so that it counts in one minute. */
    private static final Duration TOKENS_PHASE_MAX = Duration.ofSeconds(20);

    @TempDir
    Path dataDirectory;

    private EmbeddedInfrastructure infrastructure;
    private TestUpstream upstream;
    private final List<PackagedApplication> processes = new ArrayList<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** Prompt tokens of the wallet test's prompt, as the gateways count them. */
    private static volatile int promptTokens;

    @AfterEach
    void stop() throws Exception {
        // SIGKILL: the test is over, and the database may be gone already, which a graceful stop would wait for.
        for (PackagedApplication process : processes) {
            process.kill();
        }
        if (upstream != null) {
            upstream.close();
        }
        if (infrastructure != null) {
            try {
                infrastructure.close();
            } catch (java.io.IOException e) {
                // PostgreSQL was stopped by the test already.
                System.out.println("embedded infrastructure: " + e.getMessage());
            }
        }
    }

    /** A request a gateway answered 200, and what the test computes it costs. */
    private record Served(String generationId, String keyId, BigDecimal costUsd) {
    }

    @Test
    void twoGatewaysAndTwoSettlementProcessesShareOneDatabaseAndOneBrokerExactly() throws Exception {
        long startedNanos = System.nanoTime();
        infrastructure = EmbeddedInfrastructure.start(dataDirectory.resolve("infra"), true, true);
        upstream = new TestUpstream();

        // Without a server and with nothing embedded allowed, a gateway stops at once and says what to set.
        PackagedApplication unconfigured = new PackagedApplication(Map.of("TOKENMARKET_ROLE", "gateway",
                "TOKENMARKET_DATA_DIR", dataDirectory.resolve("unconfigured").toString()), Map.of());
        AssertionError refused = null;
        try {
            unconfigured.start();
        } catch (AssertionError e) {
            refused = e;
        }
        assertTrue(refused != null, "a gateway without servers does not start");
        await().atMost(Duration.ofSeconds(5)).until(() -> unconfigured.output().contains(
                "no PostgreSQL is configured: set QUARKUS_DATASOURCE_JDBC_URL"));
        assertTrue(unconfigured.output().contains("no Kafka is configured: set KAFKA_BOOTSTRAP_SERVERS"), unconfigured.output());

        List<PackagedApplication> settlement = List.of(process("settlement", "s1"), process("settlement", "s2"));
        List<PackagedApplication> gateways = new ArrayList<>(List.of(process("gateway", "g1"), process("gateway", "g2")));
        startTogether(List.of(settlement.get(0), settlement.get(1), gateways.get(0), gateways.get(1)));
        System.out.printf("four processes ready %d ms after the test began%n", (System.nanoTime() - startedNanos) / 1_000_000);
        PackagedApplication a = gateways.get(0);
        PackagedApplication b = gateways.get(1);
        assertTrue(a.output().contains("(role gateway)") && settlement.get(0).output().contains("without a public HTTP port"),
                "each process says its role");

        Org provider = a.org(ADMIN_KEY, "scale provider", "provider");
        String endpoint = a.as(provider.key()).body(Map.of("model", MODEL, "hardware", "cpu", "region", "local",
                        "pricing", Map.of("prompt", PROMPT_PRICE, "completion", COMPLETION_PRICE),
                        "declared", Map.of("throughput_tps", 50, "ttft_ms", 100),
                        "capacity", Map.of("tokens_per_minute", 100_000_000, "max_concurrency", 1_000),
                        "backend", Map.of("type", "reference")))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
        String capacityEndpoint = a.as(provider.key()).body(Map.of("model", CAPACITY_MODEL, "hardware", "gpu", "region", "local",
                        "pricing", Map.of("prompt", CAPACITY_PRICE, "completion", CAPACITY_PRICE),
                        "declared", Map.of("throughput_tps", 50, "ttft_ms", 100),
                        "capacity", Map.of("tokens_per_minute", 100_000_000, "max_concurrency", MAX_CONCURRENCY),
                        "backend", Map.of("type", "openai", "url", upstream.url(), "model", MODEL)))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
        String tokensEndpoint = a.as(provider.key()).body(Map.of("model", TOKENS_MODEL, "hardware", "gpu", "region", "local",
                        "pricing", Map.of("prompt", CAPACITY_PRICE, "completion", CAPACITY_PRICE),
                        "declared", Map.of("throughput_tps", 50, "ttft_ms", 100),
                        "capacity", Map.of("tokens_per_minute", TOKENS_PER_MINUTE, "max_concurrency", 1_000),
                        "backend", Map.of("type", "openai", "url", upstream.url(), "model", MODEL)))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");

        // 1. One wallet, two keys (one with a spend limit), four clients over both gateways, until both limits bind.
        Org buyer = a.org(ADMIN_KEY, "scale buyer", "buyer");
        String limitedKeyId = buyer.keyId();
        Map<String, Object> secondKey = a.as(ADMIN_KEY).body(Map.of("name", "unlimited")).post("/api/orgs/" + buyer.id() + "/keys")
                .then().statusCode(201).extract().path("");
        String unlimitedKey = (String) secondKey.get("key");
        String unlimitedKeyId = (String) secondKey.get("id");
        deposit(a, buyer, DEPOSIT, "scale-deposit");
        a.as(buyer.key()).body(Map.of("spend_limit", KEY_SPEND_LIMIT)).put("/api/keys/" + limitedKeyId + "/limits")
                .then().statusCode(200);

        PackagedApplication owner = settlementOwning(settlement, buyer.id());
        Queue<Served> walletServed = new ConcurrentLinkedQueue<>();
        AtomicInteger killedAfter = new AtomicInteger(-1);
        long killedAtNanos;
        try (ExecutorService clients = Executors.newFixedThreadPool(4)) {
            List<Future<?>> running = new ArrayList<>();
            for (PackagedApplication gateway : List.of(a, b)) {
                running.add(clients.submit(() -> spendUntilRefused(gateway, buyer.key(), limitedKeyId, endpoint, walletServed)));
                running.add(clients.submit(() -> spendUntilRefused(gateway, unlimitedKey, unlimitedKeyId, endpoint, walletServed)));
            }
            // 2. SIGKILL of the settlement process that owns the buyer's partition, while usage flows.
            await().atMost(Duration.ofSeconds(60)).until(() -> walletServed.size() >= 6 || running.stream().allMatch(Future::isDone));
            killedAfter.set(walletServed.size());
            owner.kill();
            killedAtNanos = System.nanoTime();
            for (Future<?> client : running) {
                client.get(120, TimeUnit.SECONDS);
            }
        }
        // The clients stop at their first refusal, which a hold still open elsewhere may have caused; one after
        // the other, the limits are spent to the last request they allow.
        for (int i = 0; ; i++) {
            PackagedApplication gateway = i % 2 == 0 ? a : b;
            boolean limitedSpent = spendOnce(gateway, buyer.key(), limitedKeyId, endpoint, walletServed) != 200;
            boolean walletSpent = spendOnce(gateway, unlimitedKey, unlimitedKeyId, endpoint, walletServed) != 200;
            if (limitedSpent && walletSpent) {
                break;
            }
            assertTrue(i < 200, "the limits bind");
        }
        awaitSettled(a, buyer);
        System.out.printf("%d requests served on one wallet, %d before the SIGKILL; settled %d ms after the kill%n",
                walletServed.size(), killedAfter.get(), (System.nanoTime() - killedAtNanos) / 1_000_000);

        BigDecimal limitedSpend = spend(walletServed, limitedKeyId);
        BigDecimal walletSpend = spend(walletServed, null);
        assertTrue(limitedSpend.compareTo(new BigDecimal(KEY_SPEND_LIMIT)) <= 0, "the key spent " + limitedSpend);
        assertTrue(walletSpend.compareTo(new BigDecimal(DEPOSIT)) <= 0, "the wallet spent " + walletSpend);
        Map<String, String> wallet = balance(a, buyer.key());
        assertEquals(0, new BigDecimal(DEPOSIT).subtract(walletSpend).compareTo(new BigDecimal(wallet.get("posted"))),
                "the wallet paid exactly what was served: " + wallet);
        assertEquals("0.00", wallet.get("held"), "nothing held: " + wallet);
        String keySpend = a.as(buyer.key()).get("/api/keys/" + limitedKeyId + "/limits").then().statusCode(200)
                .extract().path("current.spend");
        assertEquals(0, limitedSpend.compareTo(new BigDecimal(keySpend)), "the key's spend is what it was served");
        // Both limits bound: what is left of each is less than one more request may cost, and it was refused.
        BigDecimal requestMax = maxCost(PROMPT_PRICE, COMPLETION_PRICE);
        assertTrue(new BigDecimal(KEY_SPEND_LIMIT).subtract(limitedSpend).compareTo(requestMax) < 0, "the key limit bound");
        assertTrue(new BigDecimal(wallet.get("available")).compareTo(requestMax) < 0, "the wallet bound: " + wallet);
        assertPostedOnceEach(walletServed);

        // 3. A price change and a revoked key, made on gateway A, apply on both gateways within their bounds.
        Org buyer2 = a.org(ADMIN_KEY, "scale buyer 2", "buyer");
        deposit(a, buyer2, "50.00", "scale-deposit-2");
        Map<String, Object> doomed = a.as(ADMIN_KEY).body(Map.of("name", "to revoke")).post("/api/orgs/" + buyer2.id() + "/keys")
                .then().statusCode(201).extract().path("");
        String doomedKey = (String) doomed.get("key");
        Queue<Served> buyer2Served = new ConcurrentLinkedQueue<>();
        for (PackagedApplication gateway : List.of(a, b)) {
            // Each gateway has the key in its cache and the endpoint in its snapshot before the changes.
            gateway.as(doomedKey).get("/api/keys").then().statusCode(200);
            assertEquals(200, spendOnce(gateway, buyer2.key(), buyer2.keyId(), endpoint, buyer2Served));
        }
        a.as(provider.key()).body(Map.of("pricing", Map.of("prompt", NEW_PROMPT_PRICE, "completion", NEW_COMPLETION_PRICE)))
                .patch("/api/endpoints/" + endpoint).then().statusCode(200);
        Instant repriced = Instant.now();
        a.as(doomedKey).delete("/api/keys/" + doomed.get("id")).then().statusCode(200).body("status", equalTo("revoked"));
        Instant revoked = Instant.now();
        Map<PackagedApplication, Duration> priceTook = new HashMap<>();
        Map<PackagedApplication, Duration> revocationTook = new HashMap<>();
        Instant until = revoked.plus(KeyAuthenticator.REVOCATION_BOUND).plusMillis(200);
        while (Instant.now().isBefore(until) || priceTook.size() < 2 || revocationTook.size() < 2) {
            for (PackagedApplication gateway : List.of(a, b)) {
                Instant sent = Instant.now();
                Response response = completion(gateway, buyer2.key(), endpoint);
                boolean newPrice = isBilledAt(response, NEW_PROMPT_PRICE, NEW_COMPLETION_PRICE);
                buyer2Served.add(new Served(response.path("id"), buyer2.keyId(), newPrice
                        ? Market.expectedCost(response, NEW_PROMPT_PRICE, NEW_COMPLETION_PRICE)
                        : Market.billed(response, PROMPT_PRICE, COMPLETION_PRICE).costUsd()));
                if (newPrice) {
                    priceTook.putIfAbsent(gateway, Duration.between(repriced, sent));
                } else {
                    assertTrue(sent.isBefore(repriced.plus(CATALOG_BOUND)), "the old price was still charged "
                            + Duration.between(repriced, sent).toMillis() + " ms after the change");
                }
                sent = Instant.now();
                int status = gateway.as(doomedKey).get("/api/keys").statusCode();
                if (status == 401) {
                    revocationTook.putIfAbsent(gateway, Duration.between(revoked, sent));
                } else {
                    assertEquals(200, status);
                    assertTrue(sent.isBefore(revoked.plus(KeyAuthenticator.REVOCATION_BOUND)), "the revoked key was still accepted "
                            + Duration.between(revoked, sent).toMillis() + " ms after the revocation");
                }
            }
            Thread.sleep(100);
        }
        System.out.printf("new price first charged on A after %d ms, on B after %d ms; revoked key first refused on A after"
                        + " %d ms, on B after %d ms%n", priceTook.get(a).toMillis(), priceTook.get(b).toMillis(),
                revocationTook.get(a).toMillis(), revocationTook.get(b).toMillis());

        // 4. max_concurrency 8 across two gateways, then three: never more than 8 requests at the upstream at once.
        upstream.holdEachRequest(UPSTREAM_HOLD);
        Map<PackagedApplication, Integer> twoGateways = wave(List.of(a, b), buyer2, capacityEndpoint, 12, buyer2Served);
        int twoGatewaysMax = upstream.concurrentMax();
        // The third gateway runs as on Kubernetes: the topics are not its to create (it checks they exist), and a Kafka
        // client property set for it reaches its clients without stopping its start.
        PackagedApplication c = process("gateway", "g3", Map.of("kafka.topics.create", "false", "kafka.client.dns.lookup", "use_all_dns_ips"));
        c.start();
        upstream.resetConcurrentMax();
        Map<PackagedApplication, Integer> threeGateways = wave(List.of(c, a, b), buyer2, capacityEndpoint, 8, buyer2Served);
        int threeGatewaysMax = upstream.concurrentMax();
        // Once A and B are idle, their slots move to C within a heartbeat: C alone gets all 8.
        Thread.sleep(2 * HEARTBEAT.toMillis());
        upstream.resetConcurrentMax();
        Map<PackagedApplication, Integer> newcomer = wave(List.of(c), buyer2, capacityEndpoint, 10, buyer2Served);
        int newcomerMax = upstream.concurrentMax();
        System.out.printf("max_concurrency %d: at most %d requests at once over two gateways (served by A %d, B %d), %d over"
                        + " three (A %d, B %d, C %d), %d on the third alone%n", MAX_CONCURRENCY, twoGatewaysMax,
                twoGateways.get(a), twoGateways.get(b), threeGatewaysMax, threeGateways.get(a), threeGateways.get(b),
                threeGateways.get(c), newcomerMax);
        assertTrue(twoGatewaysMax <= MAX_CONCURRENCY, "two gateways sent " + twoGatewaysMax + " requests at once");
        assertTrue(threeGatewaysMax <= MAX_CONCURRENCY, "three gateways sent " + threeGatewaysMax + " requests at once");
        assertEquals(MAX_CONCURRENCY, newcomerMax, "the third gateway alone uses the whole capacity: " + newcomer);

        // 5. SIGKILL of the third gateway while it runs all 8 slots (for a buyer of their own, never answered): its
        // leases count until they expire, at most the lease TTL after its last renewal, then the survivors take them.
        long killStartedNanos = System.nanoTime();
        Org buyer3 = a.org(ADMIN_KEY, "scale buyer 3", "buyer");
        deposit(a, buyer3, "5.00", "scale-deposit-3");
        upstream.holdEachRequest(KILLED_UPSTREAM_HOLD);
        upstream.resetConcurrentMax();
        long gatewayKilledAtNanos;
        try (ExecutorService doomedClients = Executors.newFixedThreadPool(MAX_CONCURRENCY)) {
            for (int i = 0; i < MAX_CONCURRENCY; i++) {
                doomedClients.submit(() -> capacityRequest(c, buyer3, CAPACITY_MODEL, capacityEndpoint, 4));
            }
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> upstream.concurrentMax() >= MAX_CONCURRENCY);
            upstream.holdEachRequest(UPSTREAM_HOLD);
            c.kill();
            gatewayKilledAtNanos = System.nanoTime();
        }
        SlotsMoved moved = survivorsTakeTheSlots(List.of(a, b), buyer2, capacityEndpoint, gatewayKilledAtNanos, buyer2Served);
        System.out.printf("SIGKILL of a gateway running all %d slots: the survivors' first request admitted %d ms after the kill"
                        + " (lease TTL %d ms, heartbeat %d ms), then %d at once (served by A %d, B %d)%n", MAX_CONCURRENCY,
                moved.firstAdmittedAfter().toMillis(), LEASE_TTL.toMillis(), HEARTBEAT.toMillis(), moved.concurrentMax(),
                moved.servedBy().get(a), moved.servedBy().get(b));
        // The killed gateway renewed its leases at most a heartbeat before it died; the clients retry every 100 ms.
        assertTrue(moved.firstAdmittedAfter().compareTo(LEASE_TTL.plus(HEARTBEAT)) <= 0,
                "the killed gateway's slots were free again only after " + moved.firstAdmittedAfter().toMillis() + " ms");
        assertEquals(MAX_CONCURRENCY, moved.concurrentMax(), "the survivors use the whole capacity, and no more");
        assertTrue(moved.servedBy().get(a) > 0 && moved.servedBy().get(b) > 0, "both survivors took slots: " + moved.servedBy());

        // 6. tokens_per_minute across both gateways: two clients on each, until refused. A gateway sees the other's tokens
        // once the other has added them (every heartbeat) and it has read them back (its own heartbeat): at most two
        // heartbeat intervals late. So the minute's total passes the limit by at most what one gateway served in any two
        // heartbeat intervals, plus one request per client in flight when the limit is reached. Counted per gateway, it
        // would pass by a whole limit.
        upstream.holdEachRequest(Duration.ZERO);
        awaitMinuteWithTimeLeft(TOKENS_PHASE_MAX);
        long minute = System.currentTimeMillis() / 60_000;
        long tokensStartedNanos = System.nanoTime();
        Queue<Answered> answered = new ConcurrentLinkedQueue<>();
        tokensUntilRefused(List.of(a, b), buyer2, tokensEndpoint, buyer2Served, answered);
        long tokensPhaseMillis = (System.nanoTime() - tokensStartedNanos) / 1_000_000;
        assertEquals(minute, System.currentTimeMillis() / 60_000, "the token-limit phase ended in the minute it began");
        long tokensA = tokensOf(answered, a);
        long tokensB = tokensOf(answered, b);
        long tokensTotal = tokensA + tokensB;
        int requestTokensMax = answered.stream().mapToInt(Answered::promptTokens).max().orElseThrow() + TOKENS_MAX_TOKENS;
        long unseenMax = Math.max(tokensWithin(answered, a, HEARTBEAT.multipliedBy(2)), tokensWithin(answered, b, HEARTBEAT.multipliedBy(2)));
        long tolerance = unseenMax + 2L * TOKENS_CLIENTS_PER_GATEWAY * requestTokensMax;
        System.out.printf("tokens_per_minute %d over two gateways: %d tokens served in %d ms (A %d, B %d); tolerance %d (%d"
                        + " served by one gateway within two heartbeats, %d clients of at most %d tokens)%n", TOKENS_PER_MINUTE,
                tokensTotal, tokensPhaseMillis, tokensA, tokensB, tolerance, unseenMax, 2 * TOKENS_CLIENTS_PER_GATEWAY, requestTokensMax);
        assertTrue(tokensTotal >= TOKENS_PER_MINUTE, "refused only once the limit was reached: " + tokensTotal);
        assertTrue(tokensTotal <= TOKENS_PER_MINUTE + tolerance, "both gateways together served " + tokensTotal
                + " tokens in a minute, more than the limit " + TOKENS_PER_MINUTE + " plus the tolerance " + tolerance);
        assertTrue(tokensA > 0 && tokensB > 0, "both gateways served: A " + tokensA + ", B " + tokensB);
        System.out.printf("the gateway SIGKILL and tokens_per_minute steps took %d ms%n", (System.nanoTime() - killStartedNanos) / 1_000_000);

        // Every party's balance is what the test computes from the requests it was served.
        awaitSettled(a, buyer2);
        BigDecimal buyer2Spend = spend(buyer2Served, null);
        assertEquals(0, new BigDecimal("50.00").subtract(buyer2Spend).compareTo(new BigDecimal(balance(a, buyer2.key()).get("posted"))),
                "buyer 2 paid exactly what it was served");
        List<Served> all = new ArrayList<>(walletServed);
        all.addAll(buyer2Served);
        assertPostedOnceEach(all);
        BigDecimal shares = all.stream().map(s -> Market.providerShare(s.costUsd())).reduce(BigDecimal.ZERO, BigDecimal::add);
        BigDecimal fees = walletSpend.add(buyer2Spend).subtract(shares);
        String earned = a.as(provider.key()).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, shares.compareTo(new BigDecimal(earned)), "the provider earned each request's cost less the fee");
        String revenue = a.as(ADMIN_KEY).get("/api/ledger/accounts").then().statusCode(200).extract().jsonPath()
                .getString("accounts.find { it.kind == 'platform_revenue' }.balance");
        assertEquals(0, fees.compareTo(new BigDecimal(revenue)), "the platform earned each request's fee");
        b.as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200).body("difference", equalTo("0.00"));
        // The killed gateway answered none of buyer 3's requests, and none of them is charged.
        assertEquals("5.00", balance(a, buyer3.key()).get("posted"), "unanswered requests cost nothing");

        // 7. Readiness is "can serve": without the broker the gateways serve (usage waits in the outbox) and the
        // settlement process is out of service; without the database the gateways are out of service too.
        PackagedApplication survivor = settlement.get(0) == owner ? settlement.get(1) : settlement.get(0);
        infrastructure.kafka().stopServer();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(250)).until(() -> readiness(survivor) == 503);
        assertEquals(200, readiness(a), "a gateway stays ready without the broker");
        completion(b, buyer2.key(), endpoint).then().statusCode(200);
        assertTrue(outboxRows() > 0, "the usage waits in the outbox");
        infrastructure.postgres().close();
        await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(250)).until(() -> readiness(a) == 503);
        System.out.printf("scale-out test took %d ms%n", (System.nanoTime() - startedNanos) / 1_000_000);
    }

    private PackagedApplication process(String role, String name) throws Exception {
        return process(role, name, Map.of());
    }

    private PackagedApplication process(String role, String name, Map<String, String> settings) throws Exception {
        Map<String, String> properties = new HashMap<>(infrastructure.configuration());
        properties.putAll(settings);
        properties.put("tokenmarket.routing.capacity.heartbeat-interval", HEARTBEAT.toSeconds() + "s");
        properties.put("tokenmarket.routing.capacity.lease-ttl", LEASE_TTL.toSeconds() + "s");
        PackagedApplication process = new PackagedApplication(Map.of(
                "TOKENMARKET_ROLE", role,
                "TOKENMARKET_DATA_DIR", dataDirectory.resolve(name).toString(),
                "TOKENMARKET_ADMIN_KEY", ADMIN_KEY,
                "TOKENMARKET_MODEL_DOWNLOAD", "false",
                // Five JVMs share two cores: the quick compiler alone starts them sooner, and a small heap each is plenty.
                "JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -Xmx512m"), properties);
        processes.add(process);
        return process;
    }

    /** Starts the processes side by side: every one migrates at start, and Flyway's lock lets one apply the schema. */
    private static void startTogether(List<PackagedApplication> starting) throws Exception {
        try (ExecutorService starter = Executors.newFixedThreadPool(starting.size())) {
            List<Future<?>> started = new ArrayList<>();
            for (PackagedApplication process : starting) {
                started.add(starter.submit(() -> {
                    process.start();
                    return null;
                }));
            }
            for (Future<?> f : started) {
                f.get(180, TimeUnit.SECONDS);
            }
        }
    }

    /**
     * The settlement process whose consumer owns the partition of the buyer's usage (events are keyed by buyer),
     * once the consumer group has spread the partitions over both processes.
     */
    private PackagedApplication settlementOwning(List<PackagedApplication> settlement, String buyerId) throws Exception {
        TopicPartition partition = new TopicPartition(UsageEvent.TOPIC,
                Utils.toPositive(Utils.murmur2(buyerId.getBytes(StandardCharsets.UTF_8))) % USAGE_PARTITIONS);
        Map<String, PackagedApplication> byPid = new HashMap<>();
        settlement.forEach(p -> byPid.put(Long.toString(p.pid()), p));
        PackagedApplication[] owner = new PackagedApplication[1];
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, infrastructure.kafka().bootstrapServers()))) {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).until(() -> {
                Collection<MemberDescription> members = admin.describeConsumerGroups(List.of(LedgerConsumer.GROUP_ID)).all()
                        .get(5, TimeUnit.SECONDS).get(LedgerConsumer.GROUP_ID).members();
                Set<String> pidsWithPartitions = new HashSet<>();
                owner[0] = null;
                for (MemberDescription member : members) {
                    // Client ids are ledger-<thread>-<pid>.
                    String pid = member.clientId().substring(member.clientId().lastIndexOf('-') + 1);
                    if (!member.assignment().topicPartitions().isEmpty()) {
                        pidsWithPartitions.add(pid);
                    }
                    if (member.assignment().topicPartitions().contains(partition)) {
                        owner[0] = byPid.get(pid);
                    }
                }
                return owner[0] != null && pidsWithPartitions.equals(byPid.keySet());
            });
        }
        return owner[0];
    }

    private void spendUntilRefused(PackagedApplication gateway, String key, String keyId, String endpoint, Queue<Served> served) {
        while (spendOnce(gateway, key, keyId, endpoint, served) == 200) {
            assertTrue(served.size() < 1_000, "the limits bind");
        }
    }

    /** One completion; a 200 is recorded at the cost the test computes, a refusal must be the wallet's or the key's. */
    private static int spendOnce(PackagedApplication gateway, String key, String keyId, String endpoint, Queue<Served> served) {
        Response response = completion(gateway, key, endpoint);
        if (response.statusCode() == 200) {
            promptTokens = response.path("usage.prompt_tokens");
            served.add(new Served(response.path("id"), keyId, Market.billed(response, PROMPT_PRICE, COMPLETION_PRICE).costUsd()));
        } else {
            assertTrue(response.statusCode() == 402 || response.statusCode() == 429, "refused by a limit: " + response.asString());
        }
        return response.statusCode();
    }

    private static Response completion(PackagedApplication gateway, String key, String endpoint) {
        return gateway.as(key).body(Map.of("model", MODEL, "prompt", "Once upon a time", "max_tokens", MAX_TOKENS,
                "provider", Market.only(endpoint))).post("/v1/completions");
    }

    private static boolean isBilledAt(Response response, String promptPrice, String completionPrice) {
        response.then().statusCode(200);
        return Market.expectedCost(response, promptPrice, completionPrice).compareTo(new BigDecimal(response.<String>path("usage.cost"))) == 0;
    }

    /** The most a request of the wallet test can cost: its prompt's tokens and all of max_tokens. */
    private static BigDecimal maxCost(String promptPrice, String completionPrice) {
        return Market.expectedCost(promptTokens, MAX_TOKENS, promptPrice, completionPrice);
    }

    /**
     * {@code perGateway} clients on each gateway, started together, each sending two requests to the capacity
     * endpoint; answers how many each gateway served. A refusal must be the endpoint's capacity.
     */
    private Map<PackagedApplication, Integer> wave(List<PackagedApplication> gateways, Org buyer, String endpoint, int perGateway,
                                                   Queue<Served> served) throws Exception {
        Map<PackagedApplication, AtomicInteger> counts = new HashMap<>();
        try (ExecutorService clients = Executors.newFixedThreadPool(gateways.size() * perGateway)) {
            List<Future<?>> running = new ArrayList<>();
            for (PackagedApplication gateway : gateways) {
                AtomicInteger count = counts.computeIfAbsent(gateway, g -> new AtomicInteger());
                for (int i = 0; i < perGateway; i++) {
                    running.add(clients.submit(() -> {
                        for (int round = 0; round < 2; round++) {
                            servedOrRefusedForConcurrency(gateway, buyer, endpoint, served, count);
                        }
                    }));
                }
            }
            for (Future<?> f : running) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
        Map<PackagedApplication, Integer> servedBy = new HashMap<>();
        counts.forEach((gateway, count) -> servedBy.put(gateway, count.get()));
        return servedBy;
    }

    /** One request of the capacity model: true when served (recorded and counted), false when refused for concurrency. */
    private boolean servedOrRefusedForConcurrency(PackagedApplication gateway, Org buyer, String endpoint,
                                                  Queue<Served> served, AtomicInteger count) {
        Response response = capacityRequest(gateway, buyer, CAPACITY_MODEL, endpoint, 4);
        if (response.statusCode() != 200) {
            assertRefusedFor(response, "concurrency");
            return false;
        }
        served.add(new Served(response.path("id"), buyer.keyId(),
                Market.billed(response, CAPACITY_PRICE, CAPACITY_PRICE).costUsd()));
        count.incrementAndGet();
        return true;
    }

    /** When the survivors of a killed gateway first got one of its slots, and how many they then ran at once. */
    private record SlotsMoved(Duration firstAdmittedAfter, int concurrentMax, Map<PackagedApplication, Integer> servedBy) {
    }

    /**
     * Six clients on each gateway, retrying every 100 ms while refused for capacity, until the gateways together run
     * max_concurrency requests at once. The first survivor's request is admitted when it reaches the upstream: the
     * killed gateway sends nothing more, so any request arriving there after the kill is a survivor's.
     */
    private SlotsMoved survivorsTakeTheSlots(List<PackagedApplication> gateways, Org buyer, String endpoint, long killedAtNanos,
                                             Queue<Served> served) throws Exception {
        upstream.resetConcurrentMax();
        AtomicBoolean filled = new AtomicBoolean();
        Map<PackagedApplication, AtomicInteger> counts = new HashMap<>();
        long firstArrivedNanos;
        int concurrentMax;
        try (ExecutorService clients = Executors.newFixedThreadPool(6 * gateways.size())) {
            List<Future<?>> running = new ArrayList<>();
            for (PackagedApplication gateway : gateways) {
                AtomicInteger count = counts.computeIfAbsent(gateway, g -> new AtomicInteger());
                for (int i = 0; i < 6; i++) {
                    running.add(clients.submit(() -> {
                        while (!filled.get()) {
                            if (!servedOrRefusedForConcurrency(gateway, buyer, endpoint, served, count)) {
                                Thread.sleep(100);
                            }
                        }
                        return null;
                    }));
                }
            }
            try {
                await().atMost(LEASE_TTL.plusSeconds(10)).pollInterval(Duration.ofMillis(10)).until(() -> upstream.concurrentMax() > 0);
                firstArrivedNanos = System.nanoTime();
                upstream.resetConcurrentMax();
                await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                        .until(() -> upstream.concurrentMax() >= MAX_CONCURRENCY);
            } finally {
                // Also when the slots never move: the clients stop, and the failure is reported instead of waited on.
                filled.set(true);
            }
            for (Future<?> f : running) {
                f.get(30, TimeUnit.SECONDS);
            }
            concurrentMax = upstream.concurrentMax();
        }
        Map<PackagedApplication, Integer> servedBy = new HashMap<>();
        counts.forEach((gateway, count) -> servedBy.put(gateway, count.get()));
        return new SlotsMoved(Duration.ofNanos(firstArrivedNanos - killedAtNanos), concurrentMax, servedBy);
    }

    /** Sleeps into the next minute when less than {@code needed} is left of this one. */
    private static void awaitMinuteWithTimeLeft(Duration needed) throws InterruptedException {
        long intoMinuteMillis = System.currentTimeMillis() % 60_000;
        if (60_000 - intoMinuteMillis < needed.toMillis()) {
            Thread.sleep(60_000 - intoMinuteMillis + 100);
        }
    }

    /** A request a gateway answered 200: when the answer arrived, and the tokens it counts against the endpoint. */
    private record Answered(PackagedApplication gateway, long atNanos, int tokens, int promptTokens) {
    }

    private static long tokensOf(Collection<Answered> answered, PackagedApplication gateway) {
        return answered.stream().filter(x -> x.gateway() == gateway).mapToLong(Answered::tokens).sum();
    }

    /** The most tokens {@code gateway} answered within any {@code window}. */
    private static long tokensWithin(Collection<Answered> answered, PackagedApplication gateway, Duration window) {
        List<Answered> own = answered.stream().filter(x -> x.gateway() == gateway).sorted(Comparator.comparingLong(Answered::atNanos)).toList();
        long most = 0;
        for (int first = 0, last = 0, sum = 0; last < own.size(); last++) {
            sum += own.get(last).tokens();
            while (own.get(last).atNanos() - own.get(first).atNanos() > window.toNanos()) {
                sum -= own.get(first++).tokens();
            }
            most = Math.max(most, sum);
        }
        return most;
    }

    /**
     * {@link #TOKENS_CLIENTS_PER_GATEWAY} clients on each gateway, each sending requests until its first refusal,
     * which must be the endpoint's tokens_per_minute; every answer goes to {@code answered}.
     */
    private void tokensUntilRefused(List<PackagedApplication> gateways, Org buyer, String endpoint, Queue<Served> served,
                                    Queue<Answered> answered) throws Exception {
        try (ExecutorService clients = Executors.newFixedThreadPool(TOKENS_CLIENTS_PER_GATEWAY * gateways.size())) {
            List<Future<?>> running = new ArrayList<>();
            for (PackagedApplication gateway : gateways) {
                for (int i = 0; i < TOKENS_CLIENTS_PER_GATEWAY; i++) {
                    running.add(clients.submit(() -> {
                        for (int sent = 0; ; sent++) {
                            assertTrue(sent < 1_000, "the endpoint's tokens_per_minute binds");
                            long sentNanos = System.nanoTime();
                            Response response = capacityRequest(gateway, buyer, TOKENS_MODEL, endpoint, TOKENS_MAX_TOKENS);
                            if (response.statusCode() != 200) {
                                assertRefusedFor(response, "tokens_per_minute");
                                return null;
                            }
                            served.add(new Served(response.path("id"), buyer.keyId(),
                                    Market.billed(response, CAPACITY_PRICE, CAPACITY_PRICE).costUsd()));
                            answered.add(new Answered(gateway, System.nanoTime(), response.<Integer>path("usage.total_tokens"),
                                    response.<Integer>path("usage.prompt_tokens")));
                            Thread.sleep(Math.max(0, TOKENS_REQUEST_INTERVAL.toMillis() - (System.nanoTime() - sentNanos) / 1_000_000));
                        }
                    }));
                }
            }
            for (Future<?> f : running) {
                f.get(60, TimeUnit.SECONDS);
            }
        }
    }

    private static Response capacityRequest(PackagedApplication gateway, Org buyer, String model, String endpoint, int maxTokens) {
        return gateway.as(buyer.key()).body(Map.of("model", model, "prompt", "Once", "max_tokens", maxTokens,
                "provider", Market.only(endpoint))).post("/v1/completions");
    }

    /** A refusal for the endpoint's capacity: no endpoint of the model has room for one more request now. */
    private static void assertRefusedFor(Response response, String capacity) {
        assertTrue(response.statusCode() == 429 || response.statusCode() == 503, "refused for capacity: " + response.asString());
        response.then().body("error.message", containsString(capacity));
    }

    private static void deposit(PackagedApplication gateway, Org buyer, String amount, String idempotencyKey) {
        gateway.as(ADMIN_KEY).header("Idempotency-Key", idempotencyKey)
                .body(Map.of("org_id", buyer.id(), "amount", amount, "reference", "scale-out test"))
                .post("/api/ledger/deposits").then().statusCode(201);
    }

    private static Map<String, String> balance(PackagedApplication gateway, String key) {
        return gateway.as(key).get("/api/balance").then().statusCode(200).extract().path("");
    }

    /** Waits until nothing is held on the buyer's wallet: every usage event of its requests is settled. */
    private static void awaitSettled(PackagedApplication gateway, Org buyer) {
        await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
                .until(() -> "0.00".equals(balance(gateway, buyer.key()).get("held")));
    }

    private static BigDecimal spend(Collection<Served> served, String keyId) {
        return served.stream().filter(s -> keyId == null || keyId.equals(s.keyId())).map(Served::costUsd)
                .reduce(BigDecimal.ZERO, BigDecimal::add);
    }

    /** Each served request has exactly one usage entry, and there is no other: nothing lost, nothing doubled. */
    private void assertPostedOnceEach(Collection<Served> served) throws Exception {
        Set<UUID> expected = new HashSet<>();
        served.forEach(s -> assertTrue(expected.add(UUID.fromString(s.generationId().substring("gen-".length()))),
                "one answer per generation: " + s));
        List<UUID> posted = new ArrayList<>();
        try (Connection c = database();
             PreparedStatement ps = c.prepareStatement("select id from journal_entries where code = 'usage'");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                posted.add(rs.getObject(1, UUID.class));
            }
        }
        assertEquals(expected.size(), posted.size(), "one usage entry per served request");
        assertEquals(expected, new HashSet<>(posted), "the usage entries are those of the served requests");
    }

    private long outboxRows() throws Exception {
        try (Connection c = database();
             PreparedStatement ps = c.prepareStatement("select count(*) from usage_outbox");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private Connection database() throws Exception {
        Map<String, String> config = infrastructure.configuration();
        return DriverManager.getConnection(config.get("quarkus.datasource.jdbc.url"), config.get("quarkus.datasource.username"),
                config.get("quarkus.datasource.password"));
    }

    private int readiness(PackagedApplication process) {
        try {
            return http.send(HttpRequest.newBuilder(process.managementUri("/q/health/ready")).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (Exception e) {
            return -1;
        }
    }
}
