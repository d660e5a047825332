package dev.tokenmarket.forwards.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.platform.bench.LoadHarness;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;

/**
 * Forward market benchmark: limit orders per second through HTTP, with authentication, validation, the
 * book and its group-committed journal (orders and trades written in the same transaction) all on.
 *
 * <p>Steps: (1) on the running application, list a product and create {@code --traders} trader
 * organizations and fund them; (2) warm up at {@code --warmup-rate} for {@code --warmup-seconds}; (3) for each rate, send
 * orders at that fixed rate for {@code --seconds}, spread over {@code --instruments} hourly instruments (each has
 * a book of its own with its own writer): buys and sells at a price that
 * walks around the middle of the band, so that about half of them trade and the rest rest; latency is
 * measured from each order's scheduled start (no coordinated omission). Every answer must be 201.
 *
 * <p>Parameters: {@code --app URL} (default http://127.0.0.1:8080), {@code --admin-key KEY},
 * {@code --rates 1000,2000,3000}, {@code --seconds 10}, {@code --warmup-seconds 20}, {@code --warmup-rate 500},
 * {@code --traders 20}, {@code --instruments 1}.
 */
public final class ForwardBenchmark {

    private final LoadHarness harness;
    private final Random random = new Random(27);
    /** The price the orders walk around, in cents. */
    private long midCents = 50_000;

    private ForwardBenchmark(LoadHarness harness) {
        this.harness = harness;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = LoadHarness.options(args);
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "10"));
        int traders = Integer.parseInt(o.getOrDefault("traders", "20"));
        int instruments = Integer.parseInt(o.getOrDefault("instruments", "1"));
        String code = "bench" + UUID.randomUUID().toString().substring(0, 6);
        try (LoadHarness harness = new LoadHarness(o.getOrDefault("app", "http://127.0.0.1:8080"), o.getOrDefault("admin-key", "bench-admin-key"))) {
            ForwardBenchmark bench = new ForwardBenchmark(harness);
            harness.post("/api/forwards/products", harness.adminKey(), Map.of("code", code, "model", "stories260k", "tick", "0.01",
                    "price_band", Map.of("min", "0.01", "max", "1000.00"), "weights", Map.of("completion", "3")));
            JsonNode listed = harness.send("GET", "/api/forwards/instruments?state=trading&product=" + code, harness.adminKey(), null);
            List<String> symbols = new ArrayList<>();
            for (JsonNode i : listed.get("data")) {
                // Hours from the next day on: a nearer one could stop trading during the run.
                boolean farEnough = Instant.parse(i.get("trading_stops_at").asText()).isAfter(Instant.now().plus(Duration.ofHours(24)));
                if ("hour".equals(i.get("window").asText()) && farEnough && symbols.size() < instruments) {
                    symbols.add(i.get("symbol").asText());
                }
            }
            List<String> keys = new ArrayList<>();
            for (int t = 0; t < traders; t++) {
                String[] org = harness.org("bench trader " + t, "trader");
                keys.add(org[1]);
                harness.deposit(org[0], "100000000.00");
            }
            System.out.printf("instruments %s, %d traders%n", symbols, traders);
            bench.run("warm-up", symbols, keys, Integer.parseInt(o.getOrDefault("warmup-rate", "500")),
                    Integer.parseInt(o.getOrDefault("warmup-seconds", "20")));
            List<LoadHarness.Run> runs = new ArrayList<>();
            for (String rate : o.getOrDefault("rates", "1000,2000,3000").split(",")) {
                runs.add(bench.run("forward orders", symbols, keys, Integer.parseInt(rate.strip()), seconds));
            }
            System.out.println();
            System.out.println("| rate (orders/s) | achieved (orders/s) | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | errors |");
            System.out.println("|---|---|---|---|---|---|---|");
            for (LoadHarness.Run r : runs) {
                System.out.printf("| %d | %.0f | %.2f | %.2f | %.2f | %.2f | %d of %d |%n", r.rate(), r.achievedPerSecond(), r.p50Micros() / 1000.0,
                        r.p90Micros() / 1000.0, r.p99Micros() / 1000.0, r.maxMicros() / 1000.0, r.errors(), r.sent());
            }
        }
        System.exit(0);
    }

    /** One run at a fixed rate; order {@code i} goes to instrument {@code i mod n}, from trader {@code i mod traders}. */
    private LoadHarness.Run run(String target, List<String> symbols, List<String> keys, int rate, int seconds) throws InterruptedException {
        return harness.run(target, rate, seconds, i -> {
            // Prices in cents around 500.00 USD: a buy above the middle or a sell below it tends to trade.
            midCents = Math.max(40_000, Math.min(60_000, midCents + random.nextInt(3) - 1));
            boolean buy = random.nextBoolean();
            long cents = midCents + (buy ? 1 : -1) * (random.nextInt(11) - 5);
            String body = "{\"instrument\":\"" + symbols.get(i % symbols.size()) + "\",\"side\":\"" + (buy ? "buy" : "sell") + "\",\"quantity\":"
                    + (1 + random.nextInt(5)) + ",\"price\":\"" + (cents / 100) + "." + String.format("%02d", cents % 100)
                    + "\",\"client_order_id\":\"" + UUID.randomUUID() + "\"}";
            RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(harness.app() + "/api/forwards/orders")
                    .setIdleTimeout(30_000).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + keys.get(i % keys.size()));
            return new LoadHarness.Request(request, Buffer.buffer(body));
        }, answer -> answer.status() == 201);
    }
}
