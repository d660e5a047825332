package dev.tokenmarket.routing;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import java.util.UUID;
import java.util.function.Predicate;

/** Each endpoint's circuit breaker as this replica sees it: 1 while it is open (out of rotation), else 0. */
@Singleton
public class RoutingMetrics {

    private final MeterRegistry registry;

    @Inject
    public RoutingMetrics(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Starts reporting an endpoint's circuit, once this replica first routed to it. */
    void watchCircuit(UUID endpointId, Predicate<UUID> circuitOpen) {
        Gauge.builder("tokenmarket.endpoint.circuit.open", () -> circuitOpen.test(endpointId) ? 1 : 0)
                .description("1 while the endpoint's circuit breaker is open after repeated failures")
                .tag("endpoint", endpointId.toString()).register(registry);
    }
}
