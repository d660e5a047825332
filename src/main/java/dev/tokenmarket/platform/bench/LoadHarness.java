package dev.tokenmarket.platform.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
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
import java.time.Instant;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntFunction;
import java.util.function.Predicate;

/**
 * What the benchmarks share: a fixed-rate load generator (latency measured from each request's scheduled
 * start, so no coordinated omission; a cap on requests in flight) and a plain client that sets the market up
 * (organizations, keys, deposits) unmeasured.
 */
public final class LoadHarness implements AutoCloseable {

    public static final ObjectMapper JSON = new ObjectMapper();
    /**
     * Requests in flight at most; beyond it a request counts as an error instead of queueing without bound
     * (a saturated application then shows as errors and a lower achieved rate, not as minutes of queueing).
     */
    public static final int IN_FLIGHT_MAX = 4_000;
    /** Failed requests whose cause is printed (the rest are only counted). */
    private static final int ERRORS_REPORTED_MAX = 5;

    /** One request to send: where, and its body. */
    public record Request(RequestOptions options, Buffer body) {
    }

    /** What a request got back. */
    public record Answer(int status, String body) {
    }

    /** The outcome of one fixed-rate run; latencies in microseconds. */
    public record Run(String target, int rate, int sent, int ok, int errors, double achievedPerSecond,
                      long p50Micros, long p90Micros, long p99Micros, long maxMicros) {
    }

    /** For setting up the market and reading balances: not measured. */
    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    /**
     * The load generator's client: Vert.x on one event loop, with kept-alive connections. It shares the
     * 2 vCPU with the application it measures, so it should cost as little as it can: with the JDK's client
     * (and server, for the upstream) the benchmark's own process took about 0.45 of a core at 400 req/s, on
     * Vert.x about 0.12.
     */
    private final Vertx loadVertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(1));
    private final io.vertx.core.http.HttpClient load = loadVertx.createHttpClient(
            new HttpClientOptions().setProtocolVersion(HttpVersion.HTTP_1_1).setKeepAlive(true).setTcpNoDelay(true)
                    .setConnectTimeout(5_000),
            new PoolOptions().setHttp1MaxSize(IN_FLIGHT_MAX).setMaxWaitQueueSize(IN_FLIGHT_MAX));
    private final String app;
    private final String adminKey;
    private final AtomicInteger errorsReported = new AtomicInteger();

    public LoadHarness(String app, String adminKey) {
        this.app = app;
        this.adminKey = adminKey;
    }

    public String app() {
        return app;
    }

    public String adminKey() {
        return adminKey;
    }

    /** Prints the first few failed requests' causes, so that an error count can be explained. */
    private void reportError(String target, String cause) {
        if (errorsReported.incrementAndGet() <= ERRORS_REPORTED_MAX) {
            System.out.printf("error (%s): %s%n", target, cause.replace('\n', ' '));
        }
    }

    /** What one run's answers add up to; {@link #finish} is called once per request, on the event loop. */
    private final class Tally {
        final String target;
        final Predicate<Answer> good;
        final long[] latencies;
        final AtomicInteger ok = new AtomicInteger();
        final AtomicInteger errors = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final CountDownLatch answered;

        Tally(String target, Predicate<Answer> good, int total) {
            this.target = target;
            this.good = good;
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
                boolean passed = answer != null && good.test(answer);
                (passed ? ok : errors).incrementAndGet();
                if (!passed) {
                    reportError(target, answer == null ? String.valueOf(failure) : "HTTP " + answer.status() + ": "
                            + answer.body().substring(Math.max(0, answer.body().length() - 300)));
                }
            } finally {
                answered.countDown();
            }
        }
    }

    /**
     * Sends {@code request.apply(i)} at {@code rate} per second for {@code seconds}; an answer counts as ok
     * when {@code good} says so. Prints one line and answers the run.
     */
    public Run run(String target, int rate, int seconds, IntFunction<Request> request, Predicate<Answer> good)
            throws InterruptedException {
        int total = rate * seconds;
        Tally tally = new Tally(target, good, total);
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
            Request r = request.apply(i);
            // Each callback is registered on the event loop before what it waits for can happen there: a chain
            // of compose() built on this thread lost a response body now and then (its request never ended).
            load.request(r.options()).onComplete(opened -> {
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
                sent.end(r.body());
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
        Run run = new Run(target, rate, total, ok, tally.errors.get(), ok / elapsedSeconds,
                percentile(sorted, 0.50), percentile(sorted, 0.90), percentile(sorted, 0.99), sorted[sorted.length - 1]);
        System.out.printf("%-14s %5d/s: ok %d, errors %d, %.0f/s, p50 %d us, p90 %d us, p99 %d us, max %d us%n", target,
                rate, run.ok(), run.errors(), run.achievedPerSecond(), run.p50Micros(), run.p90Micros(), run.p99Micros(),
                run.maxMicros());
        return run;
    }

    private static long percentile(long[] sorted, double q) {
        return sorted[Math.max(0, (int) Math.ceil(q * sorted.length) - 1)];
    }

    /** Creates an organization with a key: {id, secret, key id}. */
    public String[] org(String name, String role) throws IOException, InterruptedException {
        String id = post("/api/orgs", adminKey, Map.of("name", name + " " + UUID.randomUUID(), "roles", List.of(role))).path("id").asText();
        JsonNode key = post("/api/orgs/" + id + "/keys", adminKey, Map.of("name", "bench"));
        return new String[] {id, key.path("key").asText(), key.path("id").asText()};
    }

    public void deposit(String orgId, String amount) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(app + "/api/ledger/deposits"))
                .header("Authorization", "Bearer " + adminKey).header("Content-Type", "application/json")
                .header("Idempotency-Key", UUID.randomUUID().toString())
                .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(
                        Map.of("org_id", orgId, "amount", amount, "reference", "benchmark deposit " + Instant.now()))))
                .build();
        check(http.send(request, HttpResponse.BodyHandlers.ofString()));
    }

    public JsonNode post(String path, String key, Object body) throws IOException, InterruptedException {
        return send("POST", path, key, body);
    }

    public JsonNode send(String method, String path, String key, Object body) throws IOException, InterruptedException {
        HttpRequest request = HttpRequest.newBuilder(URI.create(app + path))
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

    /** {@code --name value} pairs. */
    public static Map<String, String> options(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        return options;
    }

    @Override
    public void close() {
        loadVertx.close();
    }
}
