package dev.tokenmarket.catalog;

import dev.tokenmarket.catalog.EndpointRequests.Capacity;
import dev.tokenmarket.catalog.EndpointRequests.CreateEndpoint;
import dev.tokenmarket.catalog.EndpointRequests.Declared;
import dev.tokenmarket.catalog.EndpointRequests.Pricing;
import dev.tokenmarket.catalog.EndpointRequests.UpdateEndpoint;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.OffsetDateTime;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/** Providers' endpoints: listing, price and capacity changes (with price history), pausing, deactivating. */
@ApplicationScoped
public class EndpointService {

    public static final Set<String> HARDWARE_CLASSES = Set.of("gpu", "lpu", "wafer-scale", "asic", "cpu");
    private static final int TEXT_LENGTH_MAX = 200;
    private static final int LIST_ENTRIES_MAX = 100;
    private static final int THROUGHPUT_TPS_MAX = 1_000_000;
    private static final int TTFT_MS_MAX = 600_000;
    private static final int TOKENS_PER_MINUTE_MAX = 1_000_000_000;
    private static final int CONCURRENCY_MAX = 100_000;
    /** Prices above this per million tokens are surely a typo (USD 10,000). */
    private static final long PRICE_NANO_USD_PER_MTOK_MAX = 10_000L * Money.NANO_PER_USD;

    @Inject
    SecretBox secrets;

    @Inject
    ReferenceModelNames referenceModels;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    CatalogChanges changes;

    @Transactional
    public Endpoint create(UUID providerOrgId, CreateEndpoint r) {
        if (r == null) {
            throw ApiException.invalid("body", "A JSON body describing the endpoint is required.");
        }
        Endpoint e = new Endpoint();
        e.id = UUID.randomUUID();
        e.providerOrgId = providerOrgId;
        e.model = text(r.model(), "model");
        e.hardware = text(r.hardware(), "hardware");
        e.hardwareClass = r.hardwareClass() == null ? "gpu" : r.hardwareClass();
        if (!HARDWARE_CLASSES.contains(e.hardwareClass)) {
            throw ApiException.invalid("hardware_class", "Field 'hardware_class' must be one of gpu, lpu, wafer-scale, asic, cpu.");
        }
        e.region = text(r.region(), "region");
        if (r.pricing() == null) {
            throw ApiException.invalid("pricing", "Field 'pricing' is required: {prompt, completion} in USD per 1M tokens.");
        }
        e.promptPriceNanoUsdPerMillionTokens = price(r.pricing().prompt(), "pricing.prompt");
        e.completionPriceNanoUsdPerMillionTokens = price(r.pricing().completion(), "pricing.completion");
        Declared declared = r.declared() == null ? new Declared(null, null) : r.declared();
        e.declaredThroughputTps = bounded(declared.throughputTps(), "declared.throughput_tps", 1, THROUGHPUT_TPS_MAX, true);
        e.declaredTtftMs = bounded(declared.ttftMs(), "declared.ttft_ms", 0, TTFT_MS_MAX, true);
        Capacity capacity = r.capacity() == null ? new Capacity(null, null) : r.capacity();
        e.capacityTokensPerMinute = bounded(capacity.tokensPerMinute(), "capacity.tokens_per_minute", 1, TOKENS_PER_MINUTE_MAX, true);
        e.capacityMaxConcurrency = bounded(capacity.maxConcurrency(), "capacity.max_concurrency", 1, CONCURRENCY_MAX, true);
        setBackend(e, r.backend());
        if (r.supportedParameters() != null) {
            e.backendParameters = supportedParameters(e, r.supportedParameters());
        }
        e.status = "active";
        e.priceVersion = 1;
        e.createdAt = OffsetDateTime.now();
        e.updatedAt = e.createdAt;
        e.persistAndFlush();
        recordPrice(e);
        changes.changed();
        return e;
    }

    private void setBackend(Endpoint e, EndpointRequests.Backend b) {
        if (b == null || b.type() == null) {
            throw ApiException.invalid("backend.type", "Field 'backend.type' is required: \"reference\" or \"openai\".");
        }
        switch (b.type()) {
            case "reference" -> {
                if (!referenceModels.serves(e.model)) {
                    throw ApiException.invalid("model", "The embedded reference engine serves " + referenceModels.names()
                            + "; it cannot serve '" + e.model + "'.");
                }
                e.backendType = "reference";
                e.backendModel = e.model;
                Integer pace = b.maxTokensPerSecond();
                if (pace != null && (pace < 1 || pace > 1_000_000)) {
                    throw ApiException.invalid("backend.max_tokens_per_second",
                            "Field 'backend.max_tokens_per_second' must be between 1 and 1000000 (omit it for unpaced delivery).");
                }
                e.backendMaxTokensPerSecond = pace;
            }
            case "openai" -> {
                String url = text(b.url(), "backend.url");
                URI uri;
                try {
                    uri = URI.create(url);
                } catch (IllegalArgumentException ex) {
                    throw ApiException.invalid("backend.url", "Field 'backend.url' is not a URL: " + ex.getMessage());
                }
                if (uri.getScheme() == null || !Set.of("http", "https").contains(uri.getScheme()) || uri.getHost() == null) {
                    throw ApiException.invalid("backend.url", "Field 'backend.url' must be an http(s) URL such as https://api.example.com/v1.");
                }
                e.backendType = "openai";
                e.backendUrl = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
                e.backendModel = b.model() == null ? e.model : text(b.model(), "backend.model");
                e.backendApiKeyEncrypted = b.apiKey() == null || b.apiKey().isBlank() ? null : secrets.encrypt(b.apiKey());
            }
            default -> throw ApiException.invalid("backend.type", "Field 'backend.type' must be \"reference\" or \"openai\", not \"" + b.type() + "\".");
        }
    }

    public List<Endpoint> ownedBy(UUID providerOrgId) {
        return Endpoint.list("providerOrgId = ?1 order by createdAt", providerOrgId);
    }

    /** The endpoint, when {@code providerOrgId} owns it (an admin passes null); otherwise 404 or 403. */
    public Endpoint owned(UUID endpointId, UUID providerOrgId) {
        Endpoint e = Endpoint.findById(endpointId);
        if (e == null) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No endpoint with id " + endpointId + ".");
        }
        if (providerOrgId != null && !e.providerOrgId.equals(providerOrgId)) {
            throw new ApiException(ErrorCode.FORBIDDEN, "Endpoint " + endpointId + " belongs to another provider.");
        }
        return e;
    }

    /** Applies a change; a price change takes a new price version that only new requests see. */
    @Transactional
    public Endpoint update(UUID endpointId, UUID providerOrgId, UpdateEndpoint r) {
        if (r == null) {
            throw ApiException.invalid("body", "A JSON body with pricing, capacity, declared or status is required.");
        }
        Endpoint e = owned(endpointId, providerOrgId);
        if ("deactivated".equals(e.status)) {
            throw ApiException.invalid("status", "Endpoint " + endpointId + " is deactivated; list a new one instead.");
        }
        Pricing pricing = r.pricing();
        if (pricing != null) {
            long prompt = pricing.prompt() == null ? e.promptPriceNanoUsdPerMillionTokens : price(pricing.prompt(), "pricing.prompt");
            long completion = pricing.completion() == null ? e.completionPriceNanoUsdPerMillionTokens : price(pricing.completion(), "pricing.completion");
            if (prompt != e.promptPriceNanoUsdPerMillionTokens || completion != e.completionPriceNanoUsdPerMillionTokens) {
                e.promptPriceNanoUsdPerMillionTokens = prompt;
                e.completionPriceNanoUsdPerMillionTokens = completion;
                e.priceVersion++;
                Endpoint.getEntityManager().flush();
                recordPrice(e);
            }
        }
        if (r.capacity() != null) {
            e.capacityTokensPerMinute = bounded(r.capacity().tokensPerMinute(), "capacity.tokens_per_minute", 1, TOKENS_PER_MINUTE_MAX, false, e.capacityTokensPerMinute);
            e.capacityMaxConcurrency = bounded(r.capacity().maxConcurrency(), "capacity.max_concurrency", 1, CONCURRENCY_MAX, false, e.capacityMaxConcurrency);
        }
        if (r.declared() != null) {
            e.declaredThroughputTps = bounded(r.declared().throughputTps(), "declared.throughput_tps", 1, THROUGHPUT_TPS_MAX, false, e.declaredThroughputTps);
            e.declaredTtftMs = bounded(r.declared().ttftMs(), "declared.ttft_ms", 0, TTFT_MS_MAX, false, e.declaredTtftMs);
        }
        if (r.supportedParameters() != null) {
            e.backendParameters = supportedParameters(e, r.supportedParameters());
        }
        if (r.status() != null) {
            if (!Set.of("active", "paused").contains(r.status())) {
                throw ApiException.invalid("status", "Field 'status' must be \"active\" or \"paused\" (DELETE deactivates).");
            }
            e.status = r.status();
        }
        e.updatedAt = OffsetDateTime.now();
        changes.changed();
        return e;
    }

    @Transactional
    public Endpoint deactivate(UUID endpointId, UUID providerOrgId) {
        Endpoint e = owned(endpointId, providerOrgId);
        e.status = "deactivated";
        e.updatedAt = OffsetDateTime.now();
        changes.changed();
        return e;
    }

    private void recordPrice(Endpoint e) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into endpoint_prices (endpoint_id, version, prompt_price_nano_usd_per_mtok,
                                                  completion_price_nano_usd_per_mtok, valid_from) values (?, ?, ?, ?, ?)""")) {
            ps.setObject(1, e.id);
            ps.setInt(2, e.priceVersion);
            ps.setLong(3, e.promptPriceNanoUsdPerMillionTokens);
            ps.setLong(4, e.completionPriceNanoUsdPerMillionTokens);
            ps.setTimestamp(5, Timestamp.from(java.time.Instant.now()));
            ps.executeUpdate();
        } catch (SQLException ex) {
            throw new IllegalStateException("could not record the price of endpoint " + e.id, ex);
        }
    }

    /** Validates the parameters an upstream takes; in the canonical order, each once. */
    private static String[] supportedParameters(Endpoint e, List<String> names) {
        if (!"openai".equals(e.backendType)) {
            throw ApiException.invalid("supported_parameters", "The reference engine takes every parameter; "
                    + "'supported_parameters' applies to OpenAI-compatible backends only, omit it.");
        }
        if (names.size() > LIST_ENTRIES_MAX) {
            throw ApiException.invalid("supported_parameters", "Field 'supported_parameters' has more than "
                    + LIST_ENTRIES_MAX + " entries; list each parameter once.");
        }
        long mask = 0;
        for (String name : names) {
            SamplingParameter p = name == null ? null : SamplingParameter.byWireName(name);
            if (p == null) {
                throw ApiException.invalid("supported_parameters", "Unknown parameter '" + name + "' in 'supported_parameters'; "
                        + "known: " + SamplingParameter.known() + " (max_tokens is always sent).");
            }
            mask |= p.bit();
        }
        return SamplingParameter.wireNames(mask).toArray(String[]::new);
    }

    private static String text(String value, String field) {
        if (value == null || value.isBlank()) {
            throw ApiException.invalid(field, "Field '" + field + "' is required.");
        }
        if (value.length() > TEXT_LENGTH_MAX) {
            throw ApiException.invalid(field, "Field '" + field + "' is longer than " + TEXT_LENGTH_MAX + " characters.");
        }
        return value.strip();
    }

    private static long price(String value, String field) {
        long nano = Money.parseUsd(value, field);
        if (nano > PRICE_NANO_USD_PER_MTOK_MAX) {
            throw ApiException.invalid(field, "Field '" + field + "' is above USD 10000 per 1M tokens.");
        }
        return nano;
    }

    private static int bounded(Integer value, String field, int min, int max, boolean required) {
        return bounded(value, field, min, max, required, 0);
    }

    private static int bounded(Integer value, String field, int min, int max, boolean required, int current) {
        if (value == null) {
            if (required) {
                throw ApiException.invalid(field, "Field '" + field + "' is required.");
            }
            return current;
        }
        if (value < min || value > max) {
            throw ApiException.invalid(field, "Field '" + field + "' must be between " + min + " and " + max + "; got " + value + ".");
        }
        return value;
    }
}
