package dev.tokenmarket.gateway.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;

import java.io.IOException;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Gateway benchmark: the added latency of tokenmarket in front of a fast OpenAI-compatible upstream.
 *
 * <p>Steps: (1) start {@link FastUpstream}; (2) on the running gateway, create a provider with an endpoint
 * backed by that upstream and a funded buyer; (3) for each rate (default 500 and 2,000 requests per second)
 * and mode (whole, streamed), send the same chat request at a fixed rate for the duration, first directly
 * to the upstream, then through the gateway with authentication, matching, the hold, metering and Kafka
 * settlement all on; latency is measured from each request's scheduled start (no coordinated omission);
 * (4) the budget check: a buyer with a small balance and a key spend limit sends a burst; afterwards its
 * balance must not be negative and the key's spend must not pass its limit.
 *
 * <p>Parameters: {@code --gateway URL} (default http://127.0.0.1:8080), {@code --admin-key KEY},
 * {@code --rates 500,2000}, {@code --seconds 10}, {@code --warmup-seconds 30} (the direct path),
 * {@code --gateway-warmup-seconds 120}, {@code --warmup-rate} (default 400, or the first rate if lower),
 * {@code --upstream-port 18081}.
 */
public final class GatewayBenchmark {

    private static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Requests in flight at most; beyond it a request counts as an error instead of queueing without bound
     * (a saturated gateway then shows as errors and a lower achieved rate, not as minutes of queueing).
     */
    private static final int IN_FLIGHT_MAX = 4_000;
    /** Failed requests whose cause is printed (the rest are only counted). */
    private static final int ERRORS_REPORTED_MAX = 5;

    /** For setting up the market (orgs, endpoint, deposits) and reading balances: not measured. */
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    /**
     * The load generator's client: Vert.x on one event loop, with kept-alive connections. It shares the
     * 2 vCPU with the gateway it measures, so it should cost as little as it can: with the JDK's client (and
     * server, for the upstream) the benchmark's own process took about 0.45 of a core at 400 req/s, on
     * Vert.x about 0.12.
     */
    private final Vertx loadVertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    private final io.vertx.core.http.HttpClient load = loadVertx.createHttpClient(
            new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_1_1).setKeepAlive(true).setTcpNoDelay(true)
                    .setConnectTimeout(5_000),
            new PoolOptions().setHttp1MaxSize(IN_FLIGHT_MAX).setMaxWaitQueueSize(IN_FLIGHT_MAX));
    private final String gateway;
    private final String adminKey;

    private GatewayBenchmark(String gateway, String adminKey) {
        this.gateway = gateway;
        this.adminKey = adminKey;
    }

    private record Answer(int status, String body) {
    }

    /** The outcome of one fixed-rate run. */
    record Run(String target, boolean stream, int rate, int sent, int ok, int errors, double achievedPerSecond,
               long p50Micros, long p90Micros, long p99Micros, long maxMicros) {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = options(args);
        String gateway = options.getOrDefault("gateway", "http://127.0.0.1:8080");
        String adminKey = options.getOrDefault("admin-key", System.getenv().getOrDefault("TOKENMARKET_ADMIN_KEY", ""));
        int[] rates = Arrays.stream(options.getOrDefault("rates", "500,2000").split(",")).mapToInt(Integer::parseInt).toArray();
        int seconds = Integer.parseInt(options.getOrDefault("seconds", "10"));
        // The JIT needs tens of thousands of requests before the gateway's code runs compiled: its compiler
        // threads take a third of a core for the first ~90 s at 400 req/s (the application, Kafka's broker
        // and the drivers are a lot of code), and 500 req/s measured after 20 s of warm-up at 200 req/s
        // added 516 ms p50 where after 120 s at 400 req/s it added 26 ms. The gateway's warm-up is therefore
        // long; the direct path (a small client and server) needs less. The warm-up runs at a rate this
        // 2-vCPU machine sustains, so that it ends without a queue spilling into the measurement.
        int warmupSeconds = Integer.parseInt(options.getOrDefault("warmup-seconds", "30"));
        int gatewayWarmupSeconds = Integer.parseInt(options.getOrDefault("gateway-warmup-seconds", "120"));
        int warmupRate = Integer.parseInt(options.getOrDefault("warmup-rate", Integer.toString(Math.min(400, rates[0]))));
        int upstreamPort = Integer.parseInt(options.getOrDefault("upstream-port", "18081"));

        GatewayBenchmark bench = new GatewayBenchmark(gateway, adminKey);
        try (FastUpstream upstream = new FastUpstream(upstreamPort)) {
            String providerKey = bench.org("bench provider", "provider")[1];
            String endpointId = bench.post("/api/endpoints", providerKey, Map.of(
                    "model", "bench-model", "hardware", "fast local upstream", "hardware_class", "cpu", "region", "local",
                    "pricing", Map.of("prompt", "0.10", "completion", "0.20"),
                    "declared", Map.of("throughput_tps", 1000, "ttft_ms", 1),
                    "capacity", Map.of("tokens_per_minute", 1_000_000_000, "max_concurrency", 100_000),
                    "backend", Map.of("type", "openai", "url", upstream.url(), "model", "bench"))).path("id").asText();
            String[] buyer = bench.org("bench buyer", "buyer");
            bench.deposit(buyer[0], "100000.00");
            System.out.printf("gateway %s, upstream %s, endpoint %s; %d s per run after warm-ups at %d req/s (%d s direct, %d s gateway)%n",
                    gateway, upstream.url(), endpointId, seconds, warmupRate, warmupSeconds, gatewayWarmupSeconds);

            String directUrl = upstream.url() + "/chat/completions";
            String gatewayUrl = gateway + "/v1/chat/completions";
            List<Run> runs = new ArrayList<>();
            for (boolean stream : new boolean[] {false, true}) {
                byte[] directBody = body("bench", stream, null);
                byte[] gatewayBody = body("bench-model", stream, endpointId);
                bench.run("warm-up", directUrl, null, directBody, stream, warmupRate, warmupSeconds);
                // A fresh JVM cannot take the full warm-up rate at once (its first seconds run interpreted): start at half.
                int rampSeconds = Math.min(30, gatewayWarmupSeconds / 4);
                bench.run("warm-up", gatewayUrl, buyer[1], gatewayBody, stream, Math.max(1, warmupRate / 2), rampSeconds);
                bench.run("warm-up", gatewayUrl, buyer[1], gatewayBody, stream, warmupRate, gatewayWarmupSeconds - rampSeconds);
                for (int rate : rates) {
                    // Each measurement starts with the previous run's usage settled, so it pays for its own only.
                    bench.awaitSettled(buyer[1]);
                    runs.add(bench.run("direct", directUrl, null, directBody, stream, rate, seconds));
                    runs.add(bench.run("gateway", gatewayUrl, buyer[1], gatewayBody, stream, rate, seconds));
                }
            }
            report(runs);
            bench.budgetCheck(endpointId, Math.max(rates[rates.length - 1], 500));
        } finally {
            bench.loadVertx.close();
        }
    }

    private static byte[] body(String model, boolean stream, String endpointId) throws IOException {
        Map<String, Object> body = new java.util.LinkedHashMap<>();
        body.put("model", model);
        body.put("messages", List.of(Map.of("role", "user", "content", "Tell me a story")));
        body.put("max_tokens", 16);
        body.put("stream", stream);
        if (endpointId != null) {
            body.put("provider", Map.of("only", List.of(endpointId)));
        }
        return JSON.writeValueAsBytes(body);
    }

    private final AtomicInteger errorsReported = new AtomicInteger();

    /** Prints the first few failed requests' causes, so that an error count can be explained. */
    private void reportError(String target, String cause) {
        if (errorsReported.incrementAndGet() <= ERRORS_REPORTED_MAX) {
            System.out.printf("error (%s): %s%n", target, cause.replace('\n', ' '));
        }
    }

    /** What one run's answers add up to; {@link #finish} is called once per request, on the event loop. */
    private final class Tally {
        final String target;
        final boolean stream;
        final long[] latencies;
        final AtomicInteger ok = new AtomicInteger();
        final AtomicInteger errors = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final CountDownLatch answered;

        Tally(String target, boolean stream, int total) {
            this.target = target;
            this.stream = stream;
            this.latencies = new long[total];
            this.answered = new CountDownLatch(total);
        }

        /** A request refused at the in-flight cap: an error, and no latency. */
        void refuse(int index) {
            errors.incrementAndGet();
            latencies[index] = Long.MAX_VALUE;
            answered.countDown();
        }

        void finish(int index, long scheduled, Answer answer, Throwable failure) {
            try {
                inFlight.decrementAndGet();
                latencies[index] = (System.nanoTime() - scheduled) / 1_000;
                boolean good = answer != null && answer.status() == 200
                        && (!stream || answer.body().endsWith("data: [DONE]\n\n"));
                (good ? ok : errors).incrementAndGet();
                if (!good) {
                    reportError(target, answer == null ? String.valueOf(failure) : "HTTP " + answer.status() + ": "
                            + answer.body().substring(Math.max(0, answer.body().length() - 300)));
                }
            } finally {
                answered.countDown();
            }
        }
    }

    /** Sends at {@code rate} per second for {@code seconds}; latency from each request's scheduled start. */
    private Run run(String target, String url, String key, byte[] body, boolean stream, int rate, int seconds)
            throws InterruptedException {
        int total = rate * seconds;
        Tally tally = new Tally(target, stream, total);
        RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(url).setIdleTimeout(30_000)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
        if (key != null) {
            request.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + key);
        }
        Buffer payload = Buffer.buffer(body);
        long intervalNanos = 1_000_000_000L / rate;
        long start = System.nanoTime();
        for (int i = 0; i < total; i++) {
            long scheduled = start + i * intervalNanos;
            long wait = scheduled - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            int index = i;
            if (tally.inFlight.incrementAndGet() > IN_FLIGHT_MAX) {
                tally.inFlight.decrementAndGet();
                tally.refuse(index);
                continue;
            }
            // Each callback is registered on the event loop before what it waits for can happen there: a chain
            // of compose() built on this thread lost a response body now and then (its request never ended).
            load.request(request).onComplete(opened -> {
                if (opened.failed()) {
                    tally.finish(index, scheduled, null, opened.cause());
                    return;
                }
                HttpClientRequest sent = opened.result();
                sent.response().onComplete(responded -> {
                    if (responded.failed()) {
                        tally.finish(index, scheduled, null, responded.cause());
                        return;
                    }
                    HttpClientResponse response = responded.result();
                    response.body().onComplete(read -> tally.finish(index, scheduled, read.succeeded()
                            ? new Answer(response.statusCode(), read.result().toString(StandardCharsets.UTF_8)) : null, read.cause()));
                });
                sent.end(payload.copy());
            });
        }
        tally.answered.await();
        double elapsedSeconds = (System.nanoTime() - start) / 1e9;
        // Percentiles cover the requests that completed; the ones refused at the in-flight cap count as errors.
        long[] sorted = Arrays.stream(tally.latencies).filter(l -> l != Long.MAX_VALUE).sorted().toArray();
        if (sorted.length == 0) {
            sorted = new long[] {0};
        }
        int ok = tally.ok.get();
        Run run = new Run(target, stream, rate, total, ok, tally.errors.get(), ok / elapsedSeconds,
                percentile(sorted, 0.50), percentile(sorted, 0.90), percentile(sorted, 0.99), sorted[sorted.length - 1]);
        System.out.printf("%-8s %-6s %5d/s: ok %d, errors %d, %.0f/s, p50 %d us, p90 %d us, p99 %d us%n", target,
                stream ? "stream" : "whole", rate, run.ok(), run.errors(), run.achievedPerSecond(), run.p50Micros(),
                run.p90Micros(), run.p99Micros());
        return run;
    }

    private static long percentile(long[] sorted, double q) {
        return sorted[Math.max(0, (int) Math.ceil(q * sorted.length) - 1)];
    }

    /** Prints the added latency of the gateway per rate and mode, as a Markdown table. */
    private static void report(List<Run> runs) {
        System.out.println();
        System.out.println("| mode | rate (req/s) | direct p50 / p99 (ms) | gateway p50 / p99 (ms) | added p50 / p99 (ms) | gateway achieved (req/s) | gateway errors |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (int i = 0; i + 1 < runs.size(); i += 2) {
            Run direct = runs.get(i);
            Run gw = runs.get(i + 1);
            System.out.printf("| %s | %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.0f | %d of %d |%n",
                    gw.stream() ? "stream" : "whole", gw.rate(), direct.p50Micros() / 1000.0, direct.p99Micros() / 1000.0,
                    gw.p50Micros() / 1000.0, gw.p99Micros() / 1000.0, (gw.p50Micros() - direct.p50Micros()) / 1000.0,
                    (gw.p99Micros() - direct.p99Micros()) / 1000.0, gw.achievedPerSecond(), gw.errors(), gw.sent());
        }
        System.out.println();
    }

    /**
     * A buyer with 0.01 USD and a key spend limit of 0.005 USD fires a burst; each request may cost up to
     * about 0.0000047 USD. Afterwards the balance must not be negative and the key must not pass its limit.
     */
    private void budgetCheck(String endpointId, int burst) throws Exception {
        String[] buyer = org("bench budget buyer", "buyer");
        deposit(buyer[0], "0.01");
        send("PUT", "/api/keys/" + buyer[2] + "/limits", buyer[1], Map.of("spend_limit", "0.005"));
        byte[] body = body("bench-model", false, endpointId);
        Run run = run("budget", gateway + "/v1/chat/completions", buyer[1], body, false, burst, 4);
        JsonNode balance = awaitSettled(buyer[1]);
        JsonNode limits = send("GET", "/api/keys/" + buyer[2] + "/limits", buyer[1], null);
        BigDecimal posted = new BigDecimal(balance.path("posted").asText());
        BigDecimal spend = new BigDecimal(limits.path("current").path("spend").asText());
        boolean withinBalance = posted.signum() >= 0;
        boolean withinLimit = spend.compareTo(new BigDecimal("0.005")) <= 0;
        BigDecimal paid = new BigDecimal("0.01").subtract(posted);
        System.out.printf("budget check: %d served, %d refused; paid %s USD of 0.01 deposited, key spend %s USD of a 0.005 limit: %s%n",
                run.ok(), run.errors(), paid.toPlainString(), spend.toPlainString(),
                withinBalance && withinLimit && paid.compareTo(spend) == 0 ? "NO OVERSHOOT" : "OVERSHOOT");
    }

    /**
     * Waits (up to two minutes) until the buyer has no hold open, that is until the ledger has settled
     * every request it made (settlement is asynchronous, through Kafka); answers its balance.
     */
    private JsonNode awaitSettled(String buyerKey) throws IOException, InterruptedException {
        JsonNode balance = null;
        for (int i = 0; i < 1_200; i++) {
            balance = send("GET", "/api/balance", buyerKey, null);
            if (new BigDecimal(balance.path("held").asText()).signum() == 0) {
                break;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        return balance;
    }

    /** Creates an organization with a key: {id, secret, key id}. */
    private String[] org(String name, String role) throws IOException, InterruptedException {
        String id = post("/api/orgs", adminKey, Map.of("name", name + " " + UUID.randomUUID(), "roles", List.of(role))).path("id").asText();
        JsonNode key = post("/api/orgs/" + id + "/keys", adminKey, Map.of("name", "bench"));
        return new String[] {id, key.path("key").asText(), key.path("id").asText()};
    }

    private void deposit(String orgId, String amount) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway + "/api/ledger/deposits"))
                .header("Authorization", "Bearer " + adminKey).header("Content-Type", "application/json")
                .header("Idempotency-Key", UUID.randomUUID().toString())
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(
                        Map.of("org_id", orgId, "amount", amount, "reference", "benchmark deposit " + Instant.now()))))
                .build();
        check(http.send(request, HttpResponse.BodyHandlers.ofString()));
    }

    private JsonNode post(String path, String key, Object body) throws IOException, InterruptedException {
        return send("POST", path, key, body);
    }

    private JsonNode send(String method, String path, String key, Object body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(gateway + path))
                .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)))
                .build();
        return check(http.send(request, HttpResponse.BodyHandlers.ofString()));
    }

    private static JsonNode check(HttpResponse<String> response) throws IOException {
        if (response.statusCode() / 100 != 2) {
            throw new IllegalStateException(response.request().uri() + " answered " + response.statusCode() + ": " + response.body());
        }
        return JSON.readTree(response.body());
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new java.util.HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        return options;
    }
}
