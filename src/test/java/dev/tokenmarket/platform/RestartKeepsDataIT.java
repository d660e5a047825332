package dev.tokenmarket.platform;

import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs the packaged application the way the README's first command does (embedded PostgreSQL and Kafka in
 * a data directory), stops it, starts it again, and checks that nothing was lost.
 */
class RestartKeepsDataIT {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private static final Pattern ADMIN_KEY_LINE = Pattern.compile("^\\s+(tm_[A-Za-z0-9_-]{20,})\\s*$");

    @TempDir
    Path dataDirectory;

    private Process process;
    private final List<String> output = new ArrayList<>();
    private int port;

    @AfterEach
    void stop() throws InterruptedException {
        stopApplication();
    }

    @Test
    void shouldKeepEveryLedgerEntryAndTheAdminKeyAcrossARestart() throws Exception {
        // Proves data lives in the data directory: entries, balances, keys and unsettled usage survive a restart.
        port = freePort();
        startApplication();
        String adminKey = printedAdminKey();
        assertNotNull(adminKey, "the first start prints a generated admin key:\n" + String.join("\n", output));

        String providerId = as(adminKey).body(Map.of("name", "restart provider", "roles", List.of("provider")))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        String providerKey = as(adminKey).body(Map.of("name", "k")).post("/api/orgs/" + providerId + "/keys")
                .then().statusCode(201).extract().path("key");
        String buyerId = as(adminKey).body(Map.of("name", "restart buyer", "roles", List.of("buyer")))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        String buyerKey = as(adminKey).body(Map.of("name", "k")).post("/api/orgs/" + buyerId + "/keys")
                .then().statusCode(201).extract().path("key");
        as(providerKey).body(Map.of("model", "stories260k", "hardware", "cpu", "region", "local",
                        "pricing", Map.of("prompt", "100.00", "completion", "100.00"),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 100),
                        "capacity", Map.of("tokens_per_minute", 100000, "max_concurrency", 4),
                        "backend", Map.of("type", "reference")))
                .post("/api/endpoints").then().statusCode(201);
        String entryId = as(adminKey).header("Idempotency-Key", "restart-deposit")
                .body(Map.of("org_id", buyerId, "amount", "3.00", "reference", "wire 1"))
                .post("/api/ledger/deposits").then().statusCode(201).extract().path("entry_id");
        as(buyerKey).body(Map.of("model", "stories260k", "prompt", "Once upon a time", "max_tokens", 20, "temperature", 0))
                .post("/v1/completions").then().statusCode(200);

        stopApplication();
        output.clear();
        startApplication();

        assertTrue(output.stream().anyMatch(line -> line.contains("printed at the first start")),
                "the second start does not print a new admin key:\n" + String.join("\n", output));
        // The deposit is still there: the same key replays the first answer instead of depositing again.
        as(adminKey).header("Idempotency-Key", "restart-deposit")
                .body(Map.of("org_id", buyerId, "amount", "3.00", "reference", "wire 1"))
                .post("/api/ledger/deposits").then().statusCode(200)
                .body("entry_id", equalTo(entryId)).body("replayed", equalTo(true));
        // The completion's usage, recorded before the stop, is settled after the start.
        await().atMost(Duration.ofSeconds(30)).until(() ->
                "0.00".equals(as(buyerKey).get("/api/balance").then().extract().path("held")));
        String posted = as(buyerKey).get("/api/balance").then().statusCode(200).extract().path("posted");
        assertTrue(new java.math.BigDecimal(posted).compareTo(new java.math.BigDecimal("3.00")) < 0,
                "the completion was billed: " + posted);
        as(adminKey).get("/api/ledger/trial-balance").then().statusCode(200).body("difference", equalTo("0.00"));
        as(adminKey).get("/api/ledger/verification").then().statusCode(200).body("consistent", equalTo(true));
    }

    private RequestSpecification as(String key) {
        return RestAssured.given().baseUri("http://127.0.0.1").port(port)
                .header("Authorization", "Bearer " + key).contentType(ContentType.JSON);
    }

    private String printedAdminKey() {
        synchronized (output) {
            for (String line : output) {
                Matcher m = ADMIN_KEY_LINE.matcher(line);
                if (m.matches()) {
                    return m.group(1);
                }
            }
        }
        return null;
    }

    private void startApplication() throws IOException {
        Path app = Path.of(System.getProperty("tm.app.dir", "target/quarkus-app"), "quarkus-run.jar");
        ProcessBuilder builder = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules=jdk.incubator.vector", "-jar", app.toString())
                .redirectErrorStream(true);
        builder.environment().remove("TOKENMARKET_ADMIN_KEY");
        builder.environment().remove("QUARKUS_DATASOURCE_JDBC_URL");
        builder.environment().remove("KAFKA_BOOTSTRAP_SERVERS");
        builder.environment().put("TOKENMARKET_DATA_DIR", dataDirectory.toString());
        builder.environment().put("TOKENMARKET_PORT", Integer.toString(port));
        process = builder.start();
        // A thread of its own: on two cores the common pool has one worker, which RestAssured's Groovy needs.
        Thread.ofPlatform().daemon().name("app-output").start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    synchronized (output) {
                        output.add(line);
                    }
                    // Echoed so a failure's report shows what the application said.
                    System.out.println("[app] " + line);
                }
            } catch (IOException ignored) {
                // The process ended.
            }
        });
        try {
            awaitReady();
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            synchronized (output) {
                throw new AssertionError("the application did not become ready:\n" + String.join("\n", output), e);
            }
        }
    }

    private void awaitReady() {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> {
            if (!process.isAlive()) {
                throw new AssertionError("the application exited:\n" + String.join("\n", output));
            }
            try {
                HttpResponse<Void> ready = HTTP.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/q/health/ready")).build(), HttpResponse.BodyHandlers.discarding());
                return ready.statusCode() == 200;
            } catch (IOException notYet) {
                return false;
            }
        });
    }

    private void stopApplication() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            assertEquals(false, process.isAlive());
        }
        process = null;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
