package dev.tokenmarket.gateway;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/** Buyer: what one generation cost and how it went. */
@Path("/v1/generation")
@Produces(MediaType.APPLICATION_JSON)
public class GenerationResource {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CurrentCaller currentCaller;

    @GET
    public Map<String, Object> get(@QueryParam("id") String id) {
        Caller caller = currentCaller.get();
        caller.require(Role.BUYER);
        UUID generationId = GenerationIds.parse(id);
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select g.buyer_org_id, g.endpoint_id, o.name, g.model, g.prompt_tokens, g.completion_tokens,
                            g.cost_nano_usd, g.latency_ms, g.ttft_ms, g.generation_ms, g.finish_reason, g.streamed,
                            g.cancelled, g.created_at
                     from generations g join organizations o on o.id = g.provider_org_id where g.id = ?""")) {
            ps.setObject(1, generationId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.NOT_FOUND, "No generation " + id + ".");
                }
                if (!caller.has(Role.ADMIN) && !rs.getObject(1, UUID.class).equals(caller.orgId())) {
                    throw new ApiException(ErrorCode.FORBIDDEN, "Generation " + id + " belongs to another organization.");
                }
                int completionTokens = rs.getInt(6);
                long generationMs = rs.getLong(10);
                Map<String, Object> data = new LinkedHashMap<>();
                data.put("id", GenerationIds.format(generationId));
                data.put("endpoint_id", rs.getObject(2, UUID.class));
                data.put("provider", rs.getString(3));
                data.put("model", rs.getString(4));
                data.put("prompt_tokens", rs.getInt(5));
                data.put("completion_tokens", completionTokens);
                data.put("cost", Money.formatUsd(rs.getLong(7)));
                data.put("latency_ms", rs.getLong(8));
                data.put("ttft_ms", rs.getLong(9));
                data.put("generation_ms", generationMs);
                // Tokens per second over the generation phase, to two decimals; a display figure, not money.
                data.put("throughput_tps", generationMs <= 0 ? null : Math.round(completionTokens * 100_000.0 / generationMs) / 100.0);
                data.put("finish_reason", rs.getString(11));
                data.put("streamed", rs.getBoolean(12));
                data.put("cancelled", rs.getBoolean(13));
                data.put("created_at", rs.getObject(14, java.time.OffsetDateTime.class));
                return Map.of("data", data);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read generation " + generationId, e);
        }
    }
}
