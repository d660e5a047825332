package dev.tokenmarket.forwards.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

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

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int IN_FLIGHT_MAX = 4_000;
    private static final int ERRORS_REPORTED_MAX = 5;

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final Vertx loadVertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    private final io.vertx.core.http.HttpClient load = loadVertx.createHttpClient(
            new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_1_1).setKeepAlive(true).setTcpNoDelay(true),
            new PoolOptions().setHttp1MaxSize(IN_FLIGHT_MAX).setMaxWaitQueueSize(IN_FLIGHT_MAX));
    private final String app;
    private final String adminKey;
    private final AtomicInteger errorsReported = new AtomicInteger();
    private final Random random = new Random(27);

    private ForwardBenchmark(String app, String adminKey) {
        this.app = app;
        this.adminKey = adminKey;
    }

    record Run(int rate, int sent, int ok, int errors, double achievedPerSecond, long p50Micros, long p99Micros, long maxMicros) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args);
        ForwardBenchmark bench = new ForwardBenchmark(o.getOrDefault("app", "http://127.0.0.1:8080"), o.getOrDefault("admin-key", "bench-admin-key"));
        int seconds = Integer.parseInt(o.getOrDefault("seconds", "10"));
        int traders = Integer.parseInt(o.getOrDefault("traders", "20"));
        String code = "bench" + UUID.randomUUID().toString().substring(0, 6);
        bench.post("/api/forwards/products", bench.adminKey, Map.of("code", code, "model", "stories260k", "tick", "0.01",
                "price_band", Map.of("min", "0.01", "max", "1000.00"), "weights", Map.of("completion", "3")));
        JsonNode listed = bench.send("GET", "/api/forwards/instruments?state=trading&product=" + code, bench.adminKey, null);
        int instruments = Integer.parseInt(o.getOrDefault("instruments", "1"));
        List<String> symbols = new ArrayList<>();
        for (JsonNode i : listed.get("data")) {
            // Hours from the next day on: a nearer one could stop trading during the run.
            boolean farEnough = java.time.Instant.parse(i.get("trading_stops_at").asText())
                    .isAfter(java.time.Instant.now().plus(Duration.ofHours(24)));
            if ("hour".equals(i.get("window").asText()) && farEnough && symbols.size() < instruments) {
                symbols.add(i.get("symbol").asText());
            }
        }
        List<String> keys = new ArrayList<>();
        for (int t = 0; t < traders; t++) {
            JsonNode org = bench.post("/api/orgs", bench.adminKey, Map.of("name", "bench trader " + t + " " + UUID.randomUUID(), "roles", List.of("trader")));
            keys.add(bench.post("/api/orgs/" + org.get("id").asText() + "/keys", bench.adminKey, Map.of("name", "bench")).get("key").asText());
            bench.deposit(org.get("id").asText());
        }
        System.out.printf("instruments %s, %d traders%n", symbols, traders);
        bench.run(symbols, keys, Integer.parseInt(o.getOrDefault("warmup-rate", "500")), Integer.parseInt(o.getOrDefault("warmup-seconds", "20")));
        List<Run> runs = new ArrayList<>();
        for (String rate : o.getOrDefault("rates", "1000,2000,3000").split(",")) {
            runs.add(bench.run(symbols, keys, Integer.parseInt(rate.strip()), seconds));
        }
        System.out.println();
        System.out.println("| rate (orders/s) | achieved (orders/s) | p50 (ms) | p99 (ms) | max (ms) | errors |");
        System.out.println("|---|---|---|---|---|---|");
        for (Run r : runs) {
            System.out.printf("| %d | %.0f | %.2f | %.2f | %.2f | %d of %d |%n", r.rate(), r.achievedPerSecond(), r.p50Micros() / 1000.0,
                    r.p99Micros() / 1000.0, r.maxMicros() / 1000.0, r.errors(), r.sent());
        }
        bench.loadVertx.close();
        System.exit(0);
    }

    private Run run(List<String> symbols, List<String> keys, int rate, int seconds) throws InterruptedException {
        int total = rate * seconds;
        long[] latencies = new long[total];
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        AtomicInteger inFlight = new AtomicInteger();
        CountDownLatch answered = new CountDownLatch(total);
        long intervalNanos = 1_000_000_000L / rate;
        long mid = 50_000;
        long start = System.nanoTime();
        for (int i = 0; i < total; i++) {
            long scheduled = start + i * intervalNanos;
            long wait = scheduled - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            int index = i;
            if (inFlight.incrementAndGet() > IN_FLIGHT_MAX) {
                inFlight.decrementAndGet();
                errors.incrementAndGet();
                latencies[index] = Long.MAX_VALUE;
                answered.countDown();
                continue;
            }
            // Prices in cents around 500.00 USD: a buy above the middle or a sell below it tends to trade.
            mid = Math.max(40_000, Math.min(60_000, mid + random.nextInt(3) - 1));
            boolean buy = random.nextBoolean();
            long cents = mid + (buy ? 1 : -1) * (random.nextInt(11) - 5);
            String body = "{\"instrument\":\"" + symbols.get(i % symbols.size()) + "\",\"side\":\"" + (buy ? "buy" : "sell") + "\",\"quantity\":"
                    + (1 + random.nextInt(5)) + ",\"price\":\"" + (cents / 100) + "." + String.format("%02d", cents % 100)
                    + "\",\"client_order_id\":\"" + UUID.randomUUID() + "\"}";
            RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(app + "/api/forwards/orders")
                    .setIdleTimeout(30_000).putHeader(HttpHeaders.CONTENT_TYPE, "application/json")
                    .putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + keys.get(i % keys.size()));
            Buffer payload = Buffer.buffer(body);
            load.request(request).onComplete(opened -> {
                if (opened.failed()) {
                    finish(index, scheduled, -1, String.valueOf(opened.cause()), latencies, ok, errors, inFlight, answered);
                    return;
                }
                opened.result().response().onComplete(responded -> {
                    if (responded.failed()) {
                        finish(index, scheduled, -1, String.valueOf(responded.cause()), latencies, ok, errors, inFlight, answered);
                        return;
                    }
                    responded.result().body().onComplete(read -> finish(index, scheduled, responded.result().statusCode(),
                            read.succeeded() ? read.result().toString(StandardCharsets.UTF_8) : String.valueOf(read.cause()),
                            latencies, ok, errors, inFlight, answered));
                });
                opened.result().end(payload);
            });
        }
        answered.await();
        double elapsed = (System.nanoTime() - start) / 1e9;
        long[] sorted = Arrays.stream(latencies).filter(l -> l != Long.MAX_VALUE).sorted().toArray();
        if (sorted.length == 0) {
            sorted = new long[]{0};
        }
        Run run = new Run(rate, total, ok.get(), errors.get(), ok.get() / elapsed, percentile(sorted, 0.50), percentile(sorted, 0.99),
                sorted[sorted.length - 1]);
        System.out.printf("%5d/s: ok %d, errors %d, %.0f/s, p50 %d us, p99 %d us, max %d us%n", rate, run.ok(), run.errors(),
                run.achievedPerSecond(), run.p50Micros(), run.p99Micros(), run.maxMicros());
        return run;
    }

    private void finish(int index, long scheduled, int status, String body, long[] latencies, AtomicInteger ok, AtomicInteger errors,
                        AtomicInteger inFlight, CountDownLatch answered) {
        inFlight.decrementAndGet();
        latencies[index] = (System.nanoTime() - scheduled) / 1_000;
        if (status == 201) {
            ok.incrementAndGet();
        } else {
            errors.incrementAndGet();
            if (errorsReported.incrementAndGet() <= ERRORS_REPORTED_MAX) {
                System.out.println("error: HTTP " + status + ": " + body.substring(0, Math.min(300, body.length())));
            }
        }
        answered.countDown();
    }

    private static long percentile(long[] sorted, double q) {
        return sorted[Math.max(0, (int) Math.ceil(q * sorted.length) - 1)];
    }

    private void deposit(String orgId) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(app + "/api/ledger/deposits")).header("Authorization", "Bearer " + adminKey)
                .header("Content-Type", "application/json").header("Idempotency-Key", UUID.randomUUID().toString())
                .POST(HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(Map.of("org_id", orgId, "amount", "100000000.00",
                        "reference", "forward benchmark")))).build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 201) {
            throw new IOException("deposit: HTTP " + response.statusCode() + ": " + response.body());
        }
    }

    private JsonNode post(String path, String key, Object body) throws IOException, InterruptedException {
        return send("POST", path, key, body);
    }

    private JsonNode send(String method, String path, String key, Object body) throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(app + path)).header("Authorization", "Bearer " + key)
                .header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(JSON.writeValueAsString(body)));
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() >= 300) {
            throw new IOException(method + " " + path + ": HTTP " + response.statusCode() + ": " + response.body());
        }
        return JSON.readTree(response.body());
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        return options;
    }
}
