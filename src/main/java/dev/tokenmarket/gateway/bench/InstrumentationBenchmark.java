package dev.tokenmarket.gateway.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.gateway.CompletionsResource;
import dev.tokenmarket.gateway.GatewayMetrics;
import dev.tokenmarket.ledger.LedgerMetrics;
import dev.tokenmarket.platform.metrics.HttpRequestMetrics;
import dev.tokenmarket.routing.Offer;
import dev.tokenmarket.catalog.SamplingParameter;
import io.micrometer.prometheus.PrometheusConfig;
import io.micrometer.prometheus.PrometheusMeterRegistry;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.Tracer;
import org.jboss.resteasy.reactive.server.SimpleResourceInfo;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * CPU cost of one served request's instrumentation, against its budget of 5 us: what the request path
 * records (the HTTP request counter, tokens and money billed, added latency and time to first token, the
 * hold placed and, later, captured, its share of a settlement batch sample) on a real Prometheus registry,
 * plus the five spans of a request's trace with tracing off (OpenTelemetry's no-op tracer, which is what the
 * disabled SDK hands out). Steps: 64 endpoints' meters are created; 2 s of warm-up; then 10 rounds of
 * 200,000 requests each, spread over the endpoints, timed by the thread's CPU clock; the median and worst
 * round's CPU time per request are printed, and the exit status is 1 when the worst is over the budget.
 * Parameters: {@code --requests-per-round 200000}.
 */
public final class InstrumentationBenchmark {

    private static final long BUDGET_NANOS = 5_000;
    private static final long WARMUP_NANOS = 2_000_000_000L;
    private static final int ROUNDS = 10;
    private static final int ENDPOINTS = 64;

    public static void main(String[] args) {
        int perRound = args.length == 2 && args[0].equals("--requests-per-round") ? Integer.parseInt(args[1]) : 200_000;
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        HttpRequestMetrics http = new HttpRequestMetrics(registry);
        GatewayMetrics gateway = new GatewayMetrics(registry);
        LedgerMetrics ledger = new LedgerMetrics(registry);
        Tracer tracer = OpenTelemetry.noop().getTracer("tokenmarket");
        HttpRequestMetrics.Route route = http.route(new SimpleResourceInfo() {
            @Override
            public Class<?> getResourceClass() {
                return CompletionsResource.class;
            }

            @Override
            public String getMethodName() {
                return "chatCompletions";
            }

            @Override
            public Class<?>[] parameterTypes() {
                return new Class<?>[] {JsonNode.class};
            }
        });
        List<Offer> offers = new ArrayList<>(ENDPOINTS);
        for (int i = 0; i < ENDPOINTS; i++) {
            offers.add(new Offer(new UUID(0, i), new UUID(1, i % 8), "provider " + (i % 8), "model " + (i % 4), "gpu", "gpu",
                    "region", 150_000_000L, 600_000_000L, 1, 100, 200, 1_000_000, 64, "openai", "http://127.0.0.1:1/v1",
                    null, "bench", 0, SamplingParameter.OPENAI_DEFAULT));
        }
        Map<String, Object> entity = Map.of("id", "gen-bench");
        Runnable request = new Runnable() {
            int next;

            @Override
            public void run() {
                Offer offer = offers.get(next++ & (ENDPOINTS - 1));
                Span server = tracer.spanBuilder("POST /v1/chat/completions").startSpan();
                server.setAttribute("tokenmarket.generation_id", "gen-bench");
                for (String stage : new String[] {"match and hold", "route", "serve and meter", "upstream call"}) {
                    tracer.spanBuilder(stage).startSpan().end();
                }
                LedgerMetrics.holdsPlaced(1);
                gateway.metered(offer, 120, 300, 198_000, 9_900);
                gateway.served(offer, 180_000_000L, 1_200_000L);
                route.count(200, entity);
                LedgerMetrics.holdsCaptured(1);
                ledger.settled(1, 2_000_000L);
                server.end();
            }
        };
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long until = System.nanoTime() + WARMUP_NANOS;
        while (System.nanoTime() < until) {
            request.run();
        }
        long[] perRequest = new long[ROUNDS];
        for (int round = 0; round < ROUNDS; round++) {
            long cpuStart = threads.getCurrentThreadCpuTime();
            for (int i = 0; i < perRound; i++) {
                request.run();
            }
            perRequest[round] = (threads.getCurrentThreadCpuTime() - cpuStart) / perRound;
        }
        Arrays.sort(perRequest);
        if (!registry.scrape().contains("tokenmarket_billed_nano_usd_total")) {
            throw new IllegalStateException("the registry did not record the benchmark's requests");
        }
        long worst = perRequest[ROUNDS - 1];
        System.out.printf("instrumentation of one request, %d rounds of %,d (%s, %d CPUs): median %d ns, worst %d ns of CPU; budget %d ns: %s%n",
                ROUNDS, perRound, System.getProperty("java.vm.version"), Runtime.getRuntime().availableProcessors(),
                perRequest[ROUNDS / 2], worst, BUDGET_NANOS, worst <= BUDGET_NANOS ? "within" : "OVER");
        System.exit(worst <= BUDGET_NANOS ? 0 : 1);
    }
}
