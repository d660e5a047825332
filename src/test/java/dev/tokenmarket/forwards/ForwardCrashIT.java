package dev.tokenmarket.forwards;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.PackagedApplication;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged application matching orders from two traders, killed with SIGKILL midway, then started again
 * on the same data directory: no acknowledged order or fill is lost or doubled, and a retry of every order
 * (acknowledged or cut short) answers exactly once, and every hold is what the open orders need.
 */
class ForwardCrashIT {

    private static final String ADMIN_KEY = "forward-crash-admin-key";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int ACKNOWLEDGED_BEFORE_KILL = 60;

    @TempDir
    Path dataDirectory;

    private PackagedApplication application;

    @AfterEach
    void stop() throws InterruptedException {
        if (application != null) {
            application.stop();
        }
    }

    private record Sent(String clientOrderId, String body) {
    }

    private HttpResponse<String> post(HttpClient http, String key, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(application.uri("/api/forwards/orders")).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** Sends the order again until the book answers (after a restart it waits for the dead owner's lease to expire). */
    private JsonNode resend(HttpClient http, String key, String body) throws Exception {
        for (int attempt = 0; attempt < 200; attempt++) {
            HttpResponse<String> response = post(http, key, body);
            if (response.statusCode() == 201) {
                return JSON.readTree(response.body());
            }
            assertEquals(503, response.statusCode(), response.body());
            Thread.sleep(100);
        }
        throw new AssertionError("the book never answered " + body);
    }

    @Test
    void killedWhileMatchingThenStartedAgainLosesAndDoublesNoAcknowledgedOrderOrFill() throws Exception {
        // Proves the journal is written before the answer: every acknowledged order and fill survives a SIGKILL once.
        application = new PackagedApplication(Map.of("TOKENMARKET_DATA_DIR", dataDirectory.toString(), "TOKENMARKET_ADMIN_KEY", ADMIN_KEY),
                Map.of("tokenmarket.forwards.lease-ttl", "PT2S"));
        application.start();
        application.as(ADMIN_KEY).body(Map.of("code", "crash", "model", "stories260k", "tick", "0.01",
                "price_band", Map.of("min", "0.01", "max", "100.00"), "weights", Map.of("completion", "3")))
                .post("/api/forwards/products").then().statusCode(201);
        List<Map<String, Object>> listed = application.as(ADMIN_KEY).queryParam("product", "crash").queryParam("state", "trading")
                .get("/api/forwards/instruments").then().statusCode(200).extract().jsonPath().getList("data");
        String symbol = (String) listed.stream().filter(i -> "hour".equals(i.get("window"))).toList().get(10).get("symbol");
        Org buyer = application.org(ADMIN_KEY, "crash buyer", "trader");
        Org seller = application.org(ADMIN_KEY, "crash seller", "trader");
        for (Org org : List.of(buyer, seller)) {
            application.as(ADMIN_KEY).header("Idempotency-Key", "fwd-crash-" + org.id())
                    .body(Map.of("org_id", org.id(), "amount", "100000.00", "reference", "forward crash test"))
                    .post("/api/ledger/deposits").then().statusCode(201);
        }

        Map<String, JsonNode> acknowledged = new ConcurrentHashMap<>();
        Map<String, Sent> sentBy = new ConcurrentHashMap<>();
        Queue<Sent> cutShort = new ConcurrentLinkedQueue<>();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicBoolean killed = new AtomicBoolean();
        List<Thread> clients = new ArrayList<>();
        try (HttpClient http = HttpClient.newHttpClient()) {
            for (Org org : List.of(buyer, seller)) {
                boolean buys = org == buyer;
                clients.add(Thread.ofPlatform().start(() -> {
                    for (int n = 0; !killed.get(); n++) {
                        String clientOrderId = (buys ? "b-" : "s-") + n;
                        String body = "{\"instrument\":\"" + symbol + "\",\"side\":\"" + (buys ? "buy" : "sell") + "\",\"quantity\":"
                                + (1 + n % 3) + ",\"price\":\"10.0" + (n % 5) + "\",\"client_order_id\":\"" + clientOrderId + "\"}";
                        Sent sent = new Sent(clientOrderId, body);
                        sentBy.put(clientOrderId, sent);
                        try {
                            HttpResponse<String> response = post(http, org.key(), body);
                            if (response.statusCode() != 201) {
                                throw new AssertionError("HTTP " + response.statusCode() + ": " + response.body());
                            }
                            acknowledged.put(clientOrderId, JSON.readTree(response.body()));
                        } catch (IOException e) {
                            cutShort.add(sent);
                            return;
                        } catch (Throwable e) {
                            if (!killed.get()) {
                                failures.add(e);
                            }
                            cutShort.add(sent);
                            return;
                        }
                    }
                }));
            }
            await().atMost(Duration.ofSeconds(60)).until(() -> !failures.isEmpty() || acknowledged.size() >= ACKNOWLEDGED_BEFORE_KILL);
            killed.set(true);
            application.kill();
            for (Thread client : clients) {
                client.join(Duration.ofSeconds(30));
            }
            failures.forEach(f -> {
                throw new AssertionError("a client failed before the kill", f);
            });
            System.out.printf("at the kill: %d orders acknowledged, %d cut short%n", acknowledged.size(), cutShort.size());

            application.start();
            // Every acknowledged order answers its first result again; every order cut short is placed at most once.
            for (Map.Entry<String, JsonNode> ack : acknowledged.entrySet()) {
                String key = ack.getKey().startsWith("b-") ? buyer.key() : seller.key();
                JsonNode again = resend(http, key, sentBy.get(ack.getKey()).body());
                assertEquals(ack.getValue(), again, "the first answer of " + ack.getKey());
            }
            for (Sent sent : cutShort) {
                resend(http, sent.clientOrderId().startsWith("b-") ? buyer.key() : seller.key(), sent.body());
            }
        }

        Map<String, Long> filledByOrder = new HashMap<>();
        long net = 0;
        for (Org org : List.of(buyer, seller)) {
            List<Map<String, Object>> orders = application.as(org.key()).queryParam("instrument", symbol).queryParam("limit", 1000)
                    .get("/api/forwards/orders").then().statusCode(200).extract().jsonPath().getList("data");
            long expected = acknowledged.keySet().stream().filter(k -> k.startsWith(org == buyer ? "b-" : "s-")).count()
                    + cutShort.stream().filter(s -> s.clientOrderId().startsWith(org == buyer ? "b-" : "s-")).count();
            assertEquals(expected, orders.size(), "one order per client order id, none lost");
            List<Map<String, Object>> fills = application.as(org.key()).queryParam("instrument", symbol).queryParam("limit", 1000)
                    .get("/api/forwards/fills").then().statusCode(200).extract().jsonPath().getList("data");
            Set<Object> tradeIds = new HashSet<>();
            for (Map<String, Object> fill : fills) {
                assertTrue(tradeIds.add(fill.get("trade_id")), "a fill is listed once: " + fill);
                filledByOrder.merge((String) fill.get("order_id"), ((Number) fill.get("quantity")).longValue(), Long::sum);
                net += ("buy".equals(fill.get("side")) ? 1 : -1) * ((Number) fill.get("quantity")).longValue();
            }
            for (JsonNode ack : acknowledged.values()) {
                for (JsonNode fill : ack.get("fills")) {
                    if (ack.get("client_order_id").asText().startsWith(org == buyer ? "b-" : "s-")) {
                        assertTrue(tradeIds.contains(fill.get("trade_id").asText()), "the acknowledged fill " + fill + " is kept");
                    }
                }
            }
            for (Map<String, Object> order : orders) {
                assertEquals(filledByOrder.getOrDefault((String) order.get("id"), 0L), ((Number) order.get("filled_quantity")).longValue(),
                        "an order's filled quantity is the sum of its fills: " + order);
            }
        }
        assertEquals(0, net, "what the buyer bought the seller sold");
        long bought = application.as(buyer.key()).get("/api/forwards/positions").then().statusCode(200).extract().jsonPath()
                .getLong("data.find { it.instrument == '" + symbol + "' }.quantity");
        assertEquals(bought, application.as(buyer.key()).get("/api/forwards/instruments/" + symbol + "/book").then().statusCode(200)
                .extract().jsonPath().getLong("open_interest"));
        assertTrue(bought > 0, "the traders traded");
        // Every open order holds exactly what it needs, and the held proceeds are the open shorts' entry notional.
        application.as(ADMIN_KEY).get("/api/forwards/verification").then().statusCode(200)
                .body("consistent", org.hamcrest.Matchers.equalTo(true));
        application.as(ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200)
                .body("consistent", org.hamcrest.Matchers.equalTo(true));
    }
}
