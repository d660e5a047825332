package dev.tokenmarket.gateway.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.platform.bench.LoadHarness;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.RequestOptions;

import java.io.IOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

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

    private static final ObjectMapper JSON = LoadHarness.JSON;

    private final LoadHarness harness;
    private final String gateway;

    private GatewayBenchmark(LoadHarness harness) {
        this.harness = harness;
        this.gateway = harness.app();
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = LoadHarness.options(args);
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

        try (LoadHarness harness = new LoadHarness(gateway, adminKey); FastUpstream upstream = new FastUpstream(upstreamPort)) {
            GatewayBenchmark bench = new GatewayBenchmark(harness);
            String providerKey = harness.org("bench provider", "provider")[1];
            String endpointId = harness.post("/api/endpoints", providerKey, Map.of(
                    "model", "bench-model", "hardware", "fast local upstream", "hardware_class", "cpu", "region", "local",
                    "pricing", Map.of("prompt", "0.10", "completion", "0.20"),
                    "declared", Map.of("throughput_tps", 1000, "ttft_ms", 1),
                    "capacity", Map.of("tokens_per_minute", 1_000_000_000, "max_concurrency", 100_000),
                    "backend", Map.of("type", "openai", "url", upstream.url(), "model", "bench"))).path("id").asText();
            String[] buyer = harness.org("bench buyer", "buyer");
            harness.deposit(buyer[0], "100000.00");
            System.out.printf("gateway %s, upstream %s, endpoint %s; %d s per run after warm-ups at %d req/s (%d s direct, %d s gateway)%n",
                    gateway, upstream.url(), endpointId, seconds, warmupRate, warmupSeconds, gatewayWarmupSeconds);

            String directUrl = upstream.url() + "/chat/completions";
            String gatewayUrl = gateway + "/v1/chat/completions";
            List<LoadHarness.Run> runs = new ArrayList<>();
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

    /**
     * Sends the same request at {@code rate} per second for {@code seconds}; a good answer is 200 (and, streamed,
     * ends the stream). The run's target says what was measured and its mode, such as "gateway stream".
     */
    private LoadHarness.Run run(String target, String url, String key, byte[] body, boolean stream, int rate, int seconds)
            throws InterruptedException {
        RequestOptions request = new RequestOptions().setMethod(HttpMethod.POST).setAbsoluteURI(url).setIdleTimeout(30_000)
                .putHeader(HttpHeaders.CONTENT_TYPE, "application/json");
        if (key != null) {
            request.putHeader(HttpHeaders.AUTHORIZATION, "Bearer " + key);
        }
        Buffer payload = Buffer.buffer(body);
        return harness.run(target + (stream ? " stream" : " whole"), rate, seconds, i -> new LoadHarness.Request(request, payload.copy()),
                answer -> answer.status() == 200 && (!stream || answer.body().endsWith("data: [DONE]\n\n")));
    }

    /** Prints the added latency of the gateway per rate and mode, as a Markdown table. */
    private static void report(List<LoadHarness.Run> runs) {
        System.out.println();
        System.out.println("| mode | rate (req/s) | direct p50 / p99 (ms) | gateway p50 / p99 (ms) | added p50 / p99 (ms) | gateway achieved (req/s) | gateway errors |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (int i = 0; i + 1 < runs.size(); i += 2) {
            LoadHarness.Run direct = runs.get(i);
            LoadHarness.Run gw = runs.get(i + 1);
            System.out.printf("| %s | %d | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.0f | %d of %d |%n",
                    gw.target().substring(gw.target().indexOf(' ') + 1), gw.rate(), direct.p50Micros() / 1000.0, direct.p99Micros() / 1000.0,
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
        String[] buyer = harness.org("bench budget buyer", "buyer");
        harness.deposit(buyer[0], "0.01");
        harness.send("PUT", "/api/keys/" + buyer[2] + "/limits", buyer[1], Map.of("spend_limit", "0.005"));
        byte[] body = body("bench-model", false, endpointId);
        LoadHarness.Run run = run("budget", gateway + "/v1/chat/completions", buyer[1], body, false, burst, 4);
        JsonNode balance = awaitSettled(buyer[1]);
        JsonNode limits = harness.send("GET", "/api/keys/" + buyer[2] + "/limits", buyer[1], null);
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
            balance = harness.send("GET", "/api/balance", buyerKey, null);
            if (new BigDecimal(balance.path("held").asText()).signum() == 0) {
                break;
            }
            TimeUnit.MILLISECONDS.sleep(100);
        }
        return balance;
    }
}
