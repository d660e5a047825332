package dev.tokenmarket.catalog;

import dev.tokenmarket.identity.Directory;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The catalog's answer to "what is on offer": the active endpoints with everything routing and the model
 * listings need, and per model its lowest prices. Provider names come from identity.
 */
@ApplicationScoped
public class Listings {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Directory directory;

    /**
     * An active endpoint as listed: its provider, hardware, prices (and their version), declared speed,
     * capacity and backend. {@code backendTokensPerSecondMax} is 0 when unpaced; {@code supportedParameters}
     * is a mask of {@link SamplingParameter}s.
     */
    public record Listing(UUID endpointId, UUID providerOrgId, String providerName, String model, String hardware,
                          String hardwareClass, String region, long promptPriceNanoUsdPerMillionTokens,
                          long completionPriceNanoUsdPerMillionTokens, int priceVersion, int declaredThroughputTps,
                          int declaredTtftMs, int capacityTokensPerMinute, int capacityMaxConcurrency, String status,
                          String backendType, String backendUrl, String backendApiKeyEncrypted, String backendModel,
                          int backendTokensPerSecondMax, long supportedParameters) {

        Listing named(String name) {
            return new Listing(endpointId, providerOrgId, name, model, hardware, hardwareClass, region,
                    promptPriceNanoUsdPerMillionTokens, completionPriceNanoUsdPerMillionTokens, priceVersion,
                    declaredThroughputTps, declaredTtftMs, capacityTokensPerMinute, capacityMaxConcurrency, status,
                    backendType, backendUrl, backendApiKeyEncrypted, backendModel, backendTokensPerSecondMax,
                    supportedParameters);
        }
    }

    /** A model on offer: its lowest prices, how many endpoints serve it, since when, and what they accept. */
    public record ModelListing(String model, long promptPriceNanoUsdPerMillionTokensMin,
                               long completionPriceNanoUsdPerMillionTokensMin, int endpoints, long createdEpochSeconds,
                               boolean referenceBacked, long supportedParameters) {
    }

    private static final String LISTING_COLUMNS = """
            id, provider_org_id, model, hardware, hardware_class, region,
            prompt_price_nano_usd_per_mtok, completion_price_nano_usd_per_mtok, price_version,
            declared_throughput_tps, declared_ttft_ms, capacity_tokens_per_minute,
            capacity_max_concurrency, status, backend_type, backend_url, backend_api_key, backend_model,
            coalesce(backend_max_tokens_per_second, 0), backend_parameters""";

    /** Every active endpoint, in no particular order. */
    public List<Listing> active() {
        return listings("select " + LISTING_COLUMNS + " from endpoints where status = 'active'", null);
    }

    /** The active endpoints of {@code model}, cheapest (prompt plus completion price) first, then by id. */
    public List<Listing> activeOf(String model) {
        return listings("select " + LISTING_COLUMNS + """
                 from endpoints where model = ? and status = 'active'
                order by prompt_price_nano_usd_per_mtok + completion_price_nano_usd_per_mtok, id""", model);
    }

    private List<Listing> listings(String sql, String model) {
        List<Listing> unnamed = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(sql)) {
            if (model != null) {
                ps.setString(1, model);
            }
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    unnamed.add(new Listing(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), null, rs.getString(3),
                            rs.getString(4), rs.getString(5), rs.getString(6), rs.getLong(7), rs.getLong(8), rs.getInt(9),
                            rs.getInt(10), rs.getInt(11), rs.getInt(12), rs.getInt(13), rs.getString(14), rs.getString(15),
                            rs.getString(16), rs.getString(17), rs.getString(18), rs.getInt(19),
                            SamplingParameter.supportedBy(rs.getString(15), rs.getArray(20))));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the catalog", e);
        }
        Map<UUID, String> names = directory.organizationNames(unnamed.stream().map(Listing::providerOrgId).toList());
        return unnamed.stream().map(l -> l.named(names.get(l.providerOrgId()))).toList();
    }

    /** Every model with an active endpoint, in name order. */
    public List<ModelListing> models() {
        List<ModelListing> models = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select model, min(prompt_price_nano_usd_per_mtok), min(completion_price_nano_usd_per_mtok),
                            count(*), extract(epoch from min(created_at))::bigint, bool_or(backend_type = 'reference')
                     from endpoints where status = 'active' group by model order by model""");
             ResultSet rs = ps.executeQuery()) {
            Map<String, Long> parameters = parametersByModel(c);
            while (rs.next()) {
                String model = rs.getString(1);
                models.add(new ModelListing(model, rs.getLong(2), rs.getLong(3), rs.getInt(4), rs.getLong(5),
                        rs.getBoolean(6), parameters.getOrDefault(model, 0L)));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not list models", e);
        }
        return models;
    }

    /** Per model, the parameters at least one of its active endpoints takes (as OpenRouter lists them). */
    private static Map<String, Long> parametersByModel(Connection c) throws SQLException {
        Map<String, Long> byModel = new HashMap<>();
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
}
