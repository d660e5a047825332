package dev.tokenmarket.platform;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.PackagedApplication;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged application with its embedded PostgreSQL and Kafka, serving whole and streamed completions
 * from several threads, killed with SIGKILL midway (what the OOM killer does), then started again on the
 * same data directory with no hand work in between.
 */
class CrashRestartIT {

    private static final String ADMIN_KEY = "crash-restart-admin-key";
    private static final String MODEL = "stories260k";
    // USD per 1M tokens, with digits down to the nano-USD so that the cost of most requests is rounded.
    private static final String PROMPT_PRICE_USD = "1.234567891";
    private static final String COMPLETION_PRICE_USD = "2.345678912";
    private static final int PLATFORM_FEE_BPS = 500;
    private static final String DEPOSIT_USD = "50.00";
    private static final int BUYERS = 2;
    private static final int ANSWERS_BEFORE_KILL = 4;
    private static final Duration HOLD_TTL = Duration.ofSeconds(4);
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dataDirectory;

    private PackagedApplication application;
    /** The PostgreSQL of the killed JVM: stopped here if the watchdog failed, so that a failing run leaves no server. */
    private long killedJvmsPostgresPid = -1;

    @AfterEach
    void stop() throws InterruptedException {
        if (application != null) {
            application.stop();
        }
        ProcessHandle.of(killedJvmsPostgresPid).ifPresent(ProcessHandle::destroy);
    }

    /** A request the client saw finish: a whole response answered 200, or a stream that reached [DONE]. */
    private record Answered(String buyerKey, String generationId, boolean streamed) {
    }

    @Test
    void killedWhileServingThenStartedAgainSettlesEveryAnsweredRequestOnce() throws Exception {
        // Proves a SIGKILL leaves nothing to repair: PostgreSQL stops with the JVM, the next start serves, and every answered request is billed once.
        application = new PackagedApplication(
                Map.of("TOKENMARKET_DATA_DIR", dataDirectory.toString(), "TOKENMARKET_ADMIN_KEY", ADMIN_KEY),
                Map.of("tokenmarket.gateway.hold-ttl", HOLD_TTL.toString(), "tokenmarket.ledger.hold-expiry-interval", "1s"));
        application.start();
        Instant from = Instant.now().minusSeconds(60);
        Org provider = application.org(ADMIN_KEY, "crash provider", "provider");
        // Paced, so that streams and whole requests are still running when the kill comes.
        application.as(provider.key()).body(Map.of("model", MODEL, "hardware", "cpu", "region", "local",
                        "pricing", Map.of("prompt", PROMPT_PRICE_USD, "completion", COMPLETION_PRICE_USD),
                        "declared", Map.of("throughput_tps", 50, "ttft_ms", 100),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                        "backend", Map.of("type", "reference", "max_tokens_per_second", 40)))
                .post("/api/endpoints").then().statusCode(201);
        List<Org> buyers = new ArrayList<>();
        for (int b = 0; b < BUYERS; b++) {
            Org buyer = application.org(ADMIN_KEY, "crash buyer " + b, "buyer");
            application.as(ADMIN_KEY).header("Idempotency-Key", "crash-restart-" + b)
                    .body(Map.of("org_id", buyer.id(), "amount", DEPOSIT_USD, "reference", "crash test"))
                    .post("/api/ledger/deposits").then().statusCode(201);
            buyers.add(buyer);
        }

        Queue<Answered> answered = new ConcurrentLinkedQueue<>();
        AtomicInteger cutByTheKill = new AtomicInteger();
        AtomicBoolean killed = new AtomicBoolean();
        Queue<Throwable> clientFailures = new ConcurrentLinkedQueue<>();
        List<Thread> clients = new ArrayList<>();
        try (HttpClient http = HttpClient.newHttpClient()) {
            for (Org buyer : buyers) {
                for (boolean streamed : List.of(false, true)) {
                    clients.add(Thread.ofPlatform().name("client-" + buyer.id() + (streamed ? "-stream" : "-whole"))
                            .start(() -> {
                                try {
                                    sendUntilKilled(http, buyer.key(), streamed, answered, cutByTheKill, killed);
                                } catch (Throwable failure) {
                                    clientFailures.add(failure);
                                }
                            }));
                }
            }
            // The kill comes once both kinds have been answered; the clients keep a request each in flight.
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(50)).until(() ->
                    !clientFailures.isEmpty() || answered.stream().filter(Answered::streamed).count() >= ANSWERS_BEFORE_KILL
                            && answered.stream().filter(a -> !a.streamed()).count() >= ANSWERS_BEFORE_KILL);
            long postgresPid = Long.parseLong(Files.readAllLines(dataDirectory.resolve("postgres/postmaster.pid")).getFirst().strip());
            killedJvmsPostgresPid = postgresPid;
            killed.set(true);
            application.kill();
            long killedAtNanos = System.nanoTime();
            // The watchdog: the JVM's PostgreSQL does not outlive it by more than 10 s.
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                    .until(() -> ProcessHandle.of(postgresPid).map(p -> !p.isAlive()).orElse(true));
            System.out.printf("PostgreSQL (pid %d) gone %d ms after the kill%n", postgresPid,
                    (System.nanoTime() - killedAtNanos) / 1_000_000);
            for (Thread client : clients) {
                client.join(Duration.ofSeconds(30));
            }
        }
        clientFailures.forEach(failure -> {
            throw new AssertionError("a client failed before the kill", failure);
        });
        System.out.printf("at the kill: %d requests answered (%d streamed), %d cut short%n", answered.size(),
                answered.stream().filter(Answered::streamed).count(), cutByTheKill.get());
        assertTrue(answered.stream().anyMatch(Answered::streamed) && answered.stream().anyMatch(a -> !a.streamed()),
                "whole and streamed requests were answered before the kill");
        assertTrue(cutByTheKill.get() > 0, "the kill came while requests were being served");

        application.start();

        // Nothing stays held once the holds of the requests the kill cut short have outlived their TTL.
        await().atMost(HOLD_TTL.plusSeconds(60)).pollInterval(Duration.ofMillis(250)).until(() ->
                buyers.stream().allMatch(b -> "0.00".equals(application.as(b.key()).get("/api/balance")
                        .then().statusCode(200).extract().path("held")))
                        && reconciliation(from).getInt("usage.awaiting_settlement") == 0
                        && Integer.valueOf(0).equals(reconciliation(from).get("consumer_lag.total")));

        long providerShareNanoUsd = 0;
        long feesNanoUsd = 0;
        Set<String> answeredIds = new HashSet<>();
        answered.forEach(a -> assertTrue(answeredIds.add(a.generationId()), "one answer per generation: " + a));
        int postedNotAnswered = 0;
        for (Org buyer : buyers) {
            Map<String, Object> wallet = account(buyer.id(), "buyer_wallet");
            List<String> posted = usageEntries(wallet.get("id").toString(), from);
            Set<String> postedOnce = new HashSet<>(posted);
            assertEquals(postedOnce.size(), posted.size(), "no generation is posted twice on " + buyer.id());
            long costNanoUsd = 0;
            for (String entryId : posted) {
                JsonPath generation = application.as(buyer.key()).queryParam("id", "gen-" + entryId)
                        .get("/v1/generation").then().statusCode(200).extract().jsonPath();
                long cost = costNanoUsd(generation.getInt("data.prompt_tokens"), generation.getInt("data.completion_tokens"));
                long fee = feeNanoUsd(cost);
                costNanoUsd += cost;
                feesNanoUsd += fee;
                providerShareNanoUsd += cost - fee;
                if (!answeredIds.contains("gen-" + entryId)) {
                    // Metered and committed, but the kill came before the answer reached the client.
                    postedNotAnswered++;
                }
            }
            for (Answered a : answered) {
                if (a.buyerKey().equals(buyer.key())) {
                    assertTrue(postedOnce.contains(a.generationId().substring("gen-".length())),
                            "the answered generation " + a + " is settled");
                }
            }
            assertEquals(nanoUsd(DEPOSIT_USD) - costNanoUsd, nanoUsd((String) wallet.get("balance")), "wallet of " + buyer.id());
            assertEquals("0.00", wallet.get("held"), "nothing held on " + buyer.id());
        }
        System.out.printf("after the restart: %d answered generations settled, %d more committed but cut before their answer%n",
                answered.size(), postedNotAnswered);
        assertEquals(providerShareNanoUsd, nanoUsd((String) account(provider.id(), "provider_payable").get("balance")),
                "the provider earns each generation's cost less the platform fee");
        assertEquals(feesNanoUsd, nanoUsd(application.as(ADMIN_KEY).get("/api/ledger/accounts").then().statusCode(200)
                .extract().jsonPath().getString("accounts.find { it.kind == 'platform_revenue' }.balance")),
                "the platform earns each generation's fee");

        JsonPath report = reconciliation(from);
        assertEquals(true, report.getBoolean("reconciled"), report.prettify());
        assertEquals(answered.size() + postedNotAnswered, report.getInt("usage.entries_posted"), report.prettify());
        assertEquals(0, report.getInt("usage.entries_without_metering"), report.prettify());
        assertEquals(0, report.getInt("usage.dead_lettered"), report.prettify());
        application.as(ADMIN_KEY).get("/api/ledger/trial-balance").then().statusCode(200).body("difference", equalTo("0.00"));
        application.as(ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200).body("consistent", equalTo(true));
    }

    /**
     * One client thread: completions one after another, whole ({@code /v1/completions}) or streamed
     * ({@code /v1/chat/completions}), until the kill cuts one short.
     */
    private void sendUntilKilled(HttpClient http, String key, boolean streamed, Queue<Answered> answered,
                                 AtomicInteger cutByTheKill, AtomicBoolean killed) throws InterruptedException {
        int i = 0;
        while (true) {
            Map<String, Object> body = streamed
                    ? Map.of("model", MODEL, "messages", List.of(Map.of("role", "user", "content", "Tell a story " + i)),
                    "max_tokens", 12 + i % 8, "stream", true)
                    : Map.of("model", MODEL, "prompt", "Once upon a time " + i, "max_tokens", 12 + i % 8);
            i++;
            boolean sentBeforeTheKill = !killed.get();
            try {
                HttpRequest request = HttpRequest.newBuilder(application.uri(streamed ? "/v1/chat/completions" : "/v1/completions"))
                        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                        .timeout(Duration.ofSeconds(30))
                        .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body))).build();
                HttpResponse<Stream<String>> response = http.send(request, HttpResponse.BodyHandlers.ofLines());
                boolean done;
                try (Stream<String> lines = response.body()) {
                    // A whole response is one JSON line; a stream is done when its [DONE] line arrives.
                    done = response.statusCode() == 200 && lines.anyMatch(line -> !streamed || line.equals("data: [DONE]"));
                }
                assertEquals(200, response.statusCode(), "a completion before the kill");
                if (done) {
                    answered.add(new Answered(key, response.headers().firstValue("X-Generation-Id").orElseThrow(), streamed));
                } else {
                    // The stream ended without [DONE]: the kill cut it.
                    cutByTheKill.incrementAndGet();
                    return;
                }
            } catch (IOException | UncheckedIOException e) {
                if (!killed.get()) {
                    throw new AssertionError("a request failed before the kill", e);
                }
                if (sentBeforeTheKill) {
                    cutByTheKill.incrementAndGet();
                }
                return;
            }
        }
    }

    /** Cost as PRODUCT.md defines it: tokens times price per million, rounded half-even to the nano-USD. */
    private static long costNanoUsd(int promptTokens, int completionTokens) {
        BigDecimal perMillion = new BigDecimal(PROMPT_PRICE_USD).movePointRight(9).multiply(BigDecimal.valueOf(promptTokens))
                .add(new BigDecimal(COMPLETION_PRICE_USD).movePointRight(9).multiply(BigDecimal.valueOf(completionTokens)));
        return perMillion.movePointLeft(6).setScale(0, RoundingMode.HALF_EVEN).longValueExact();
    }

    /** The platform fee: the cost times the fee's basis points, rounded half-even to the nano-USD. */
    private static long feeNanoUsd(long costNanoUsd) {
        return BigDecimal.valueOf(costNanoUsd).multiply(BigDecimal.valueOf(PLATFORM_FEE_BPS)).movePointLeft(4)
                .setScale(0, RoundingMode.HALF_EVEN).longValueExact();
    }

    private static long nanoUsd(String usd) {
        return new BigDecimal(usd).movePointRight(9).longValueExact();
    }

    private Map<String, Object> account(String orgId, String kind) {
        return application.as(ADMIN_KEY).queryParam("org_id", orgId).get("/api/ledger/accounts")
                .then().statusCode(200).extract().jsonPath().getMap("accounts.find { it.kind == '" + kind + "' }");
    }

    /** The ids of the usage entries on an account's statement since {@code from}. */
    private List<String> usageEntries(String accountId, Instant from) {
        return application.as(ADMIN_KEY).queryParam("from", from.toString()).queryParam("to", Instant.now().plusSeconds(60).toString())
                .get("/api/ledger/accounts/" + accountId + "/statement").then().statusCode(200)
                .extract().jsonPath().getList("entries.findAll { it.code == 'usage' }.entry_id");
    }

    private JsonPath reconciliation(Instant from) {
        return application.as(ADMIN_KEY).queryParam("from", from.toString()).queryParam("to", Instant.now().plusSeconds(60).toString())
                .get("/api/ledger/reconciliation").then().statusCode(200).extract().jsonPath();
    }
}
