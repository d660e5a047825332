package dev.tokenmarket.catalog;

import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import dev.tokenmarket.routing.EndpointHealth;
import dev.tokenmarket.routing.SamplingParameter;
import io.agroal.api.AgroalDataSource;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Anyone with a key: the models on offer and, per model, its endpoints with declared and measured speed. */
@Path("/v1/models")
@Produces(MediaType.APPLICATION_JSON)
public class ModelsResource {

    /** Measurements cover the generations of this rolling window. */
    private static final String MEASUREMENT_WINDOW = "1 hour";

    @Inject
    AgroalDataSource dataSource;

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
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select model, min(prompt_price_nano_usd_per_mtok), min(completion_price_nano_usd_per_mtok),
                            count(*), extract(epoch from min(created_at))::bigint, bool_or(backend_type = 'reference')
                     from endpoints where status = 'active' group by model order by model""");
             ResultSet rs = ps.executeQuery()) {
            Map<String, Long> parameters = parametersByModel(c);
            while (rs.next()) {
                String model = rs.getString(1);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("id", model);
                m.put("object", "model");
                m.put("created", rs.getLong(5));
                m.put("owned_by", "tokenmarket");
                m.put("context_length", rs.getBoolean(6) && referenceModels.serves(model) ? referenceModels.contextLength(model) : null);
                m.put("pricing", Map.of("prompt", Money.formatUsd(rs.getLong(2)), "completion", Money.formatUsd(rs.getLong(3))));
                m.put("endpoints", rs.getInt(4));
                m.put("supported_parameters", SamplingParameter.wireNames(parameters.getOrDefault(model, 0L)));
                models.add(m);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not list models", e);
        }
        return Map.of("object", "list", "data", models);
    }

    /** Per model, the parameters at least one of its active endpoints takes (as OpenRouter lists them). */
    private static Map<String, Long> parametersByModel(Connection c) throws SQLException {
        Map<String, Long> byModel = new java.util.HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select model, backend_type, backend_parameters from endpoints where status = 'active'
                group by model, backend_type, backend_parameters""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                byModel.merge(rs.getString(1), SamplingParameter.supportedBy(rs.getString(2), rs.getArray(3)), (a, b) -> a | b);
            }
        }
        return byModel;
    }

    @GET
    @Path("/{model}/endpoints")
    public Map<String, Object> endpoints(@PathParam("model") String model) {
        currentCaller.get();
        List<Map<String, Object>> endpoints = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     with m as (
                         select endpoint_id,
                                count(*) as requests,
                                percentile_cont(0.5) within group (order by ttft_ms) as ttft_p50,
                                percentile_cont(0.9) within group (order by ttft_ms) as ttft_p90,
                                percentile_cont(0.99) within group (order by ttft_ms) as ttft_p99,
                                percentile_cont(0.5) within group (order by completion_tokens * 1000.0 / greatest(generation_ms, 1)) as tps_p50,
                                percentile_cont(0.9) within group (order by completion_tokens * 1000.0 / greatest(generation_ms, 1)) as tps_p90,
                                percentile_cont(0.99) within group (order by completion_tokens * 1000.0 / greatest(generation_ms, 1)) as tps_p99
                         from generations where model = ? and created_at > now() - interval '""" + MEASUREMENT_WINDOW + """
                         ' group by endpoint_id)
                     select e.id, o.name, e.provider_org_id, e.hardware, e.hardware_class, e.region,
                            e.prompt_price_nano_usd_per_mtok, e.completion_price_nano_usd_per_mtok,
                            e.declared_throughput_tps, e.declared_ttft_ms, e.capacity_tokens_per_minute,
                            e.capacity_max_concurrency, e.status, e.backend_type, e.backend_parameters,
                            m.requests, m.ttft_p50, m.ttft_p90, m.ttft_p99, m.tps_p50, m.tps_p90, m.tps_p99
                     from endpoints e join organizations o on o.id = e.provider_org_id
                     left join m on m.endpoint_id = e.id
                     where e.model = ? and e.status = 'active'
                     order by e.prompt_price_nano_usd_per_mtok + e.completion_price_nano_usd_per_mtok, e.id""")) {
            ps.setString(1, model);
            ps.setString(2, model);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> e = new LinkedHashMap<>();
                    e.put("id", rs.getObject(1, UUID.class));
                    e.put("provider", rs.getString(2));
                    e.put("provider_org_id", rs.getObject(3, UUID.class));
                    e.put("hardware", rs.getString(4));
                    e.put("hardware_class", rs.getString(5));
                    e.put("region", rs.getString(6));
                    e.put("pricing", Map.of("prompt", Money.formatUsd(rs.getLong(7)), "completion", Money.formatUsd(rs.getLong(8))));
                    e.put("declared", Map.of("throughput_tps", rs.getInt(9), "ttft_ms", rs.getInt(10)));
                    e.put("capacity", Map.of("tokens_per_minute", rs.getInt(11), "max_concurrency", rs.getInt(12)));
                    e.put("status", rs.getString(13));
                    e.put("supported_parameters", SamplingParameter.wireNames(SamplingParameter.supportedBy(rs.getString(14),
                            rs.getArray(15))));
                    Map<String, Object> measured = new LinkedHashMap<>();
                    measured.put("window", MEASUREMENT_WINDOW);
                    measured.put("requests", rs.getObject(16) == null ? 0 : rs.getLong(16));
                    measured.put("ttft_ms", percentiles(rs, 17));
                    measured.put("throughput_tps", percentiles(rs, 20));
                    e.put("measured", measured);
                    e.put("live", live(rs.getObject(1, UUID.class)));
                    endpoints.add(e);
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not list endpoints of " + model, e);
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

    private static Map<String, Object> percentiles(ResultSet rs, int firstColumn) throws SQLException {
        if (rs.getObject(firstColumn) == null) {
            return null;
        }
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("p50", Math.round(rs.getDouble(firstColumn) * 100) / 100.0);
        p.put("p90", Math.round(rs.getDouble(firstColumn + 1) * 100) / 100.0);
        p.put("p99", Math.round(rs.getDouble(firstColumn + 2) * 100) / 100.0);
        return p;
    }
}
