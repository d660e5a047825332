package dev.tokenmarket.platform;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.PackagedApplication;
import io.restassured.specification.RequestSpecification;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
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

    private static final Pattern ADMIN_KEY_LINE = Pattern.compile("^\\s+(tm_[A-Za-z0-9_-]{20,})\\s*$");

    @TempDir
    Path dataDirectory;

    private PackagedApplication application;

    @AfterEach
    void stop() throws InterruptedException {
        if (application != null) {
            application.stop();
        }
    }

    @Test
    void shouldKeepEveryLedgerEntryAndTheAdminKeyAcrossARestart() throws Exception {
        // Proves data lives in the data directory: entries, balances, keys and unsettled usage survive a restart.
        application = new PackagedApplication(Map.of("TOKENMARKET_DATA_DIR", dataDirectory.toString()), Map.of());
        application.start();
        String adminKey = printedAdminKey();
        assertNotNull(adminKey, "the first start prints a generated admin key:\n" + application.output());

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
        io.restassured.response.Response served = as(buyerKey)
                .body(Map.of("model", "stories260k", "prompt", "Once upon a time", "max_tokens", 20, "temperature", 0))
                .post("/v1/completions");
        served.then().statusCode(200);
        java.math.BigDecimal cost = Market.expectedCost(served, "100.00", "100.00");

        application.stop();
        application.start();

        assertTrue(application.outputLines().stream().anyMatch(line -> line.contains("printed at the first start")),
                "the second start does not print a new admin key:\n" + application.output());
        // The deposit is still there: the same key replays the first answer instead of depositing again.
        as(adminKey).header("Idempotency-Key", "restart-deposit")
                .body(Map.of("org_id", buyerId, "amount", "3.00", "reference", "wire 1"))
                .post("/api/ledger/deposits").then().statusCode(200)
                .body("entry_id", equalTo(entryId)).body("replayed", equalTo(true));
        // The completion's usage, recorded before the stop, is settled after the start.
        await().atMost(Duration.ofSeconds(30)).until(() ->
                "0.00".equals(as(buyerKey).get("/api/balance").then().extract().path("held")));
        String posted = as(buyerKey).get("/api/balance").then().statusCode(200).extract().path("posted");
        assertEquals(0, Market.usd("3.00").subtract(cost).compareTo(Market.usd(posted)),
                "the completion was billed once, its tokens at the endpoint's price (" + cost + " USD): " + posted);
        String earned = as(providerKey).get("/api/balance").then().statusCode(200).extract().path("payable.posted");
        assertEquals(0, Market.providerShare(cost).compareTo(Market.usd(earned)), "the provider earned its share: " + earned);
        as(adminKey).get("/api/ledger/trial-balance").then().statusCode(200).body("difference", equalTo("0.00"));
        as(adminKey).get("/api/ledger/verification").then().statusCode(200).body("consistent", equalTo(true));
    }

    private RequestSpecification as(String key) {
        return application.as(key);
    }

    private String printedAdminKey() {
        for (String line : application.outputLines()) {
            Matcher m = ADMIN_KEY_LINE.matcher(line);
            if (m.matches()) {
                return m.group(1);
            }
        }
        return null;
    }
}
