package dev.tokenmarket.gateway;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Directory;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.metering.MeteredGenerations;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Buyer: what one generation cost and how it went. */
@Path("/v1/generation")
@Produces(MediaType.APPLICATION_JSON)
public class GenerationResource {

    @Inject
    MeteredGenerations generations;

    @Inject
    Directory directory;

    @Inject
    CurrentCaller currentCaller;

    @GET
    public Map<String, Object> get(@QueryParam("id") String id) {
        Caller caller = currentCaller.get();
        caller.require(Role.BUYER);
        UUID generationId = GenerationIds.parse(id);
        MeteredGenerations.Detail g = generations.find(generationId)
                .orElseThrow(() -> new ApiException(ErrorCode.NOT_FOUND, "No generation " + id + "."));
        if (!caller.has(Role.ADMIN) && !g.buyerOrgId().equals(caller.orgId())) {
            throw new ApiException(ErrorCode.FORBIDDEN, "Generation " + id + " belongs to another organization.");
        }
        Map<String, Object> data = new LinkedHashMap<>();
        data.put("id", GenerationIds.format(generationId));
        data.put("endpoint_id", g.endpointId());
        data.put("provider", directory.organizationNames(List.of(g.providerOrgId())).get(g.providerOrgId()));
        data.put("model", g.model());
        data.put("prompt_tokens", g.promptTokens());
        data.put("completion_tokens", g.completionTokens());
        data.put("cost", Money.formatUsd(g.costNanoUsd()));
        data.put("latency_ms", g.latencyMs());
        data.put("ttft_ms", g.ttftMs());
        data.put("generation_ms", g.generationMs());
        // Tokens per second over the generation phase, to two decimals; a display figure, not money.
        data.put("throughput_tps", g.generationMs() <= 0 ? null
                : Math.round(g.completionTokens() * 100_000.0 / g.generationMs()) / 100.0);
        data.put("finish_reason", g.finishReason());
        data.put("streamed", g.streamed());
        data.put("cancelled", g.cancelled());
        data.put("created_at", g.createdAt());
        return Map.of("data", data);
    }
}
