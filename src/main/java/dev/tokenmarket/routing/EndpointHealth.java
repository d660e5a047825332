package dev.tokenmarket.routing;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What this gateway replica has seen of each endpoint: a rolling window of the latest requests (time to
 * first token, throughput, success) and a circuit breaker. An endpoint that fails
 * {@code failuresToOpen} times in a row is taken out of rotation for the cool-down; after it, the next
 * request is a trial: success closes the circuit, failure opens it again at once.
 */
@ApplicationScoped
public class EndpointHealth {

    /** Samples kept per endpoint; older ones drop out of the window. */
    public static final int WINDOW_SAMPLES_MAX = 256;
    /** Samples needed before measured figures replace declared ones in routing. */
    public static final int SAMPLES_TO_TRUST = 5;
    /** Successes between two refreshes of the medians used by routing. */
    private static final int REFRESH_EVERY_SAMPLES = 16;

    @Inject
    RoutingMetrics metrics;

    @ConfigProperty(name = "tokenmarket.routing.circuit.failures-to-open", defaultValue = "3")
    int failuresToOpen;

    @ConfigProperty(name = "tokenmarket.routing.circuit.cool-down", defaultValue = "PT30S")
    Duration coolDown;

    private final Map<UUID, State> states = new ConcurrentHashMap<>();
    /** Endpoints with a trusted measured median, which routing ranks by measurement instead of declaration. */
    private final Set<UUID> measured = ConcurrentHashMap.newKeySet();

    /** Percentiles of one measure over the window. */
    public record Percentiles(double p50, double p90, double p99) {
    }

    /** The window's figures for one endpoint; percentiles are null without successful samples. */
    public record Measured(int requests, double successRate, Percentiles ttftMs, Percentiles throughputTps,
                           boolean circuitOpen) {
    }

    private static final class State {
        final double[] ttftMs = new double[WINDOW_SAMPLES_MAX];
        final double[] tps = new double[WINDOW_SAMPLES_MAX];
        final boolean[] ok = new boolean[WINDOW_SAMPLES_MAX];
        int next;
        int count;
        int consecutiveFailures;
        int sinceRefresh;
        long openUntilNanos;
        volatile double ttftP50 = Double.NaN;
        volatile double tpsP50 = Double.NaN;

        void add(boolean success, double ttft, double throughput) {
            ok[next] = success;
            ttftMs[next] = ttft;
            tps[next] = throughput;
            next = (next + 1) % WINDOW_SAMPLES_MAX;
            count = Math.min(count + 1, WINDOW_SAMPLES_MAX);
        }
    }

    private State state(UUID endpointId) {
        return states.computeIfAbsent(endpointId, id -> {
            // Outside CDI (the matching benchmark's fixed book) there is no registry to report to.
            if (metrics != null) {
                metrics.watchCircuit(id, this::circuitOpen);
            }
            return new State();
        });
    }

    public void recordSuccess(UUID endpointId, long ttftNanos, int completionTokens, long generationNanos) {
        State s = state(endpointId);
        synchronized (s) {
            double throughput = completionTokens <= 1 || generationNanos <= 0 ? Double.NaN
                    : completionTokens * 1e9 / generationNanos;
            s.add(true, ttftNanos / 1e6, throughput);
            s.consecutiveFailures = 0;
            s.openUntilNanos = 0;
            // The medians routing reads are refreshed every few samples: sorting the window per request would
            // cost more than the rest of matching.
            if (++s.sinceRefresh >= REFRESH_EVERY_SAMPLES || Double.isNaN(s.ttftP50)) {
                s.sinceRefresh = 0;
                Measured m = measuredLocked(s);
                s.ttftP50 = m.ttftMs() == null ? Double.NaN : m.ttftMs().p50();
                s.tpsP50 = m.throughputTps() == null ? Double.NaN : m.throughputTps().p50();
                if (!Double.isNaN(s.ttftP50) || !Double.isNaN(s.tpsP50)) {
                    measured.add(endpointId);
                }
            }
        }
    }

    public void recordFailure(UUID endpointId) {
        State s = state(endpointId);
        synchronized (s) {
            s.add(false, Double.NaN, Double.NaN);
            s.consecutiveFailures++;
            if (s.consecutiveFailures >= failuresToOpen) {
                s.openUntilNanos = System.nanoTime() + coolDown.toNanos();
            }
        }
    }

    /** Endpoints with at least one trusted measured median (a live view). */
    public Set<UUID> measuredEndpoints() {
        return measured;
    }

    /** True while the endpoint cools down after repeated failures. */
    public boolean circuitOpen(UUID endpointId) {
        State s = states.get(endpointId);
        if (s == null) {
            return false;
        }
        long openUntil = s.openUntilNanos;
        return openUntil != 0 && openUntil - System.nanoTime() > 0;
    }

    /** Measured median time to first token, or NaN before enough samples. */
    public double ttftP50Ms(UUID endpointId) {
        State s = states.get(endpointId);
        return s == null ? Double.NaN : s.ttftP50;
    }

    /** Measured median throughput, or NaN before enough samples. */
    public double throughputP50Tps(UUID endpointId) {
        State s = states.get(endpointId);
        return s == null ? Double.NaN : s.tpsP50;
    }

    public Measured measured(UUID endpointId) {
        State s = states.get(endpointId);
        if (s == null) {
            return new Measured(0, Double.NaN, null, null, false);
        }
        synchronized (s) {
            return measuredLocked(s);
        }
    }

    private Measured measuredLocked(State s) {
        int successes = 0;
        double[] ttft = new double[s.count];
        double[] tps = new double[s.count];
        int tpsCount = 0;
        for (int i = 0; i < s.count; i++) {
            if (s.ok[i]) {
                ttft[successes++] = s.ttftMs[i];
                if (!Double.isNaN(s.tps[i])) {
                    tps[tpsCount++] = s.tps[i];
                }
            }
        }
        boolean trusted = successes >= SAMPLES_TO_TRUST;
        return new Measured(s.count, s.count == 0 ? Double.NaN : (double) successes / s.count,
                trusted ? percentiles(ttft, successes) : null,
                tpsCount >= SAMPLES_TO_TRUST ? percentiles(tps, tpsCount) : null,
                s.openUntilNanos != 0 && s.openUntilNanos - System.nanoTime() > 0);
    }

    private static Percentiles percentiles(double[] values, int count) {
        double[] sorted = Arrays.copyOf(values, count);
        Arrays.sort(sorted);
        return new Percentiles(rank(sorted, 0.50), rank(sorted, 0.90), rank(sorted, 0.99));
    }

    /** Nearest-rank percentile. */
    private static double rank(double[] sorted, double q) {
        int index = (int) Math.ceil(q * sorted.length) - 1;
        return Math.round(sorted[Math.max(0, index)] * 100) / 100.0;
    }
}
