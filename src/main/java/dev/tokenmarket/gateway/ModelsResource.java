package dev.tokenmarket.gateway;

import dev.tokenmarket.catalog.Listings;
import dev.tokenmarket.catalog.ReferenceModelNames;
import dev.tokenmarket.catalog.SamplingParameter;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.metering.MeteredGenerations;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.EndpointHealth;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Anyone with a key: the models on offer and, per model, its endpoints with declared and measured speed.
 * It joins what three contexts know: the catalog's listings, metering's measurements over the window, and
 * what routing saw live on this replica.
 */
@Path("/v1/models")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {

    /** Measurements cover the generations of this rolling window. */
    private static final String MEASUREMENT_WINDOW = "1 hour";

    @Inject
    Listings listings;

    @Inject
    MeteredGenerations generations;

    @Inject
    ReferenceModelNames referenceModels;

    @Inject
    CurrentCaller currentCaller;

    @Inject
    EndpointHealth health;

    @GET
    public Map<String, Object> list() {
        currentCaller.get();
        List<Map<String, Object>> models = new ArrayList<>();
        for (Listings.ModelListing l : listings.models()) {
            String model = l.model();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", model);
            m.put("object", "model");
            m.put("created", l.createdEpochSeconds());
            m.put("owned_by", "tokenmarket");
            m.put("context_length", l.referenceBacked() && referenceModels.serves(model) ? referenceModels.contextLength(model) : null);
            m.put("pricing", Map.of("prompt", Money.formatUsd(l.promptPriceNanoUsdPerMillionTokensMin()),
                    "completion", Money.formatUsd(l.completionPriceNanoUsdPerMillionTokensMin())));
            m.put("endpoints", l.endpoints());
            m.put("supported_parameters", SamplingParameter.wireNames(l.supportedParameters()));
            models.add(m);
        }
        return Map.of("object", "list", "data", models);
    }

    @GET
    @Path("/{model}/endpoints")
    public Map<String, Object> endpoints(@PathParam("model") String model) {
        currentCaller.get();
        Map<UUID, MeteredGenerations.Speed> speeds = generations.speedsOf(model, MEASUREMENT_WINDOW);
        List<Map<String, Object>> endpoints = new ArrayList<>();
        for (Listings.Listing l : listings.activeOf(model)) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("id", l.endpointId());
            e.put("provider", l.providerName());
            e.put("provider_org_id", l.providerOrgId());
            e.put("hardware", l.hardware());
            e.put("hardware_class", l.hardwareClass());
            e.put("region", l.region());
            e.put("pricing", Map.of("prompt", Money.formatUsd(l.promptPriceNanoUsdPerMillionTokens()),
                    "completion", Money.formatUsd(l.completionPriceNanoUsdPerMillionTokens())));
            e.put("declared", Map.of("throughput_tps", l.declaredThroughputTps(), "ttft_ms", l.declaredTtftMs()));
            e.put("capacity", Map.of("tokens_per_minute", l.capacityTokensPerMinute(), "max_concurrency", l.capacityMaxConcurrency()));
            e.put("status", l.status());
            e.put("supported_parameters", SamplingParameter.wireNames(l.supportedParameters()));
            MeteredGenerations.Speed speed = speeds.get(l.endpointId());
            Map<String, Object> measured = new LinkedHashMap<>();
            measured.put("window", MEASUREMENT_WINDOW);
            measured.put("requests", speed == null ? 0 : speed.requests());
            measured.put("ttft_ms", percentiles(speed == null ? null : speed.ttftMs()));
            measured.put("throughput_tps", percentiles(speed == null ? null : speed.throughputTps()));
            e.put("measured", measured);
            e.put("live", live(l.endpointId()));
            endpoints.add(e);
        }
        if (endpoints.isEmpty()) {
            throw new ApiException(ErrorCode.MODEL_NOT_FOUND, "The model '" + model + "' is not served by any active endpoint.", "model");
        }
        return Map.of("data", Map.of("id", model, "endpoints", endpoints));
    }

    /**
     * What this gateway replica saw over its rolling window of the latest requests, failures included:
     * the figures routing uses, with the success rate (uptime) and the circuit breaker's state.
     */
    private Map<String, Object> live(UUID endpointId) {
        EndpointHealth.Measured m = health.measured(endpointId);
        Map<String, Object> live = new LinkedHashMap<>();
        live.put("window_requests_max", EndpointHealth.WINDOW_SAMPLES_MAX);
        live.put("requests", m.requests());
        live.put("success_rate", Double.isNaN(m.successRate()) ? null : Math.round(m.successRate() * 10_000) / 10_000.0);
        live.put("ttft_ms", m.ttftMs());
        live.put("throughput_tps", m.throughputTps());
        live.put("circuit_open", m.circuitOpen());
        return live;
    }

    private static Map<String, Object> percentiles(MeteredGenerations.Percentiles p) {
        if (p == null) {
            return null;
        }
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("p50", Math.round(p.p50() * 100) / 100.0);
        view.put("p90", Math.round(p.p90() * 100) / 100.0);
        view.put("p99", Math.round(p.p99() * 100) / 100.0);
        return view;
    }
}
