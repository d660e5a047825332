package dev.tokenmarket.gateway;

import dev.tokenmarket.routing.Offer;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.time.Duration;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * What the gateway serves, for operators and finance: tokens and money billed by model and provider, and per
 * endpoint the latency the gateway adds and the time to first token. Labels are bounded by the catalog
 * (endpoint, model, provider); generation and key ids never become labels. A request looks its endpoint's
 * meters up once in a map; creating them is the only costly step and happens once per endpoint.
 */
@Singleton
public class GatewayMetrics {

    /** Endpoints whose meters are kept at hand; beyond it (a catalog far larger than today's) they are looked up. */
    private static final int ENDPOINTS_MAX = 10_000;
    private static final Duration[] ADDED_LATENCY_BUCKETS = durations(0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000);
    private static final Duration[] TTFT_BUCKETS = durations(10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000);

    private final MeterRegistry registry;
    private final Map<UUID, EndpointMeters> endpoints = new ConcurrentHashMap<>();
    private final Map<String, Counter> keyLimitRefusals = new ConcurrentHashMap<>();

    @Inject
    public GatewayMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** One endpoint's meters; model and provider are kept to notice an offer that changed under the same id. */
    private record EndpointMeters(String model, String provider, Counter promptTokens, Counter completionTokens,
                                  Counter billedNanoUsd, Counter platformRevenueNanoUsd, Timer addedLatency,
                                  Timer timeToFirstToken) {
    }

    /** A metered request: its tokens, what its buyer is billed, and the platform's fee out of that. */
    public void metered(Offer offer, int promptTokens, int completionTokens, long costNanoUsd, long feeNanoUsd) {
        EndpointMeters m = meters(offer);
        m.promptTokens.increment(promptTokens);
        m.completionTokens.increment(completionTokens);
        m.billedNanoUsd.increment(costNanoUsd);
        m.platformRevenueNanoUsd.increment(feeNanoUsd);
    }

    /**
     * A served request's timings: from its arrival to its first token, and the time the gateway added (the
     * request's time in the spot flow less its time in the backend: matching, limits, hold and metering).
     */
    public void served(Offer offer, long timeToFirstTokenNanos, long addedNanos) {
        EndpointMeters m = meters(offer);
        m.timeToFirstToken.record(timeToFirstTokenNanos, TimeUnit.NANOSECONDS);
        m.addedLatency.record(Math.max(0, addedNanos), TimeUnit.NANOSECONDS);
    }

    /** A request a key's limit refused; {@code limit} is "minute" (requests or tokens per minute) or "spend". */
    public void keyLimitRefused(String limit) {
        keyLimitRefusals.computeIfAbsent(limit, l -> Counter.builder("tokenmarket.key.limit.refusals")
                .description("Requests refused by their API key's limits").tag("limit", l).register(registry)).increment();
    }

    private EndpointMeters meters(Offer offer) {
        EndpointMeters m = endpoints.get(offer.endpointId());
        if (m != null && m.model.equals(offer.model()) && m.provider.equals(offer.providerName())) {
            return m;
        }
        m = create(offer);
        if (endpoints.size() < ENDPOINTS_MAX) {
            endpoints.put(offer.endpointId(), m);
        }
        return m;
    }

    private EndpointMeters create(Offer offer) {
        Tags billing = Tags.of("model", offer.model(), "provider", offer.providerName());
        Tags endpoint = billing.and("endpoint", offer.endpointId().toString());
        return new EndpointMeters(offer.model(), offer.providerName(),
                Counter.builder("tokenmarket.tokens").description("Tokens billed, by model, provider and kind")
                        .tags(billing).tag("kind", "prompt").register(registry),
                Counter.builder("tokenmarket.tokens").description("Tokens billed, by model, provider and kind")
                        .tags(billing).tag("kind", "completion").register(registry),
                Counter.builder("tokenmarket.billed.nano.usd")
                        .description("What buyers were billed for their requests, in nano-USD (1e-9 USD)")
                        .tags(billing).register(registry),
                Counter.builder("tokenmarket.platform.revenue.nano.usd")
                        .description("The platform's fee out of what buyers were billed, in nano-USD (1e-9 USD)")
                        .tags(billing).register(registry),
                Timer.builder("tokenmarket.gateway.added.latency")
                        .description("Time a served request spent in the gateway outside its backend: matching, limits, hold, metering")
                        .tags(endpoint).serviceLevelObjectives(ADDED_LATENCY_BUCKETS).register(registry),
                Timer.builder("tokenmarket.gateway.time.to.first.token")
                        .description("From a served request's arrival to its first token")
                        .tags(endpoint).serviceLevelObjectives(TTFT_BUCKETS).register(registry));
    }

    private static Duration[] durations(double... millis) {
        Duration[] result = new Duration[millis.length];
        for (int i = 0; i < millis.length; i++) {
            result[i] = Duration.ofNanos((long) (millis[i] * 1_000_000));
        }
        return result;
    }
}
