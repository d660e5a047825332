package dev.tokenmarket.catalog;

import dev.tokenmarket.platform.Money;

import java.time.OffsetDateTime;
import java.util.List;
import java.util.UUID;

/** An endpoint as the API shows it (with every parameter its backend takes); the upstream API key is never shown. */
public record EndpointView(UUID id, UUID providerOrgId, String model, String hardware, String hardwareClass,
                           String region, EndpointRequests.Pricing pricing, EndpointRequests.Declared declared,
                           EndpointRequests.Capacity capacity, BackendView backend, String status,
                           List<String> supportedParameters, int priceVersion, OffsetDateTime createdAt,
                           OffsetDateTime updatedAt) {

    public record BackendView(String type, String url, String model, boolean hasApiKey, Integer maxTokensPerSecond) {
    }

    public static EndpointView of(Endpoint e) {
        return new EndpointView(e.id, e.providerOrgId, e.model, e.hardware, e.hardwareClass, e.region,
                new EndpointRequests.Pricing(Money.formatUsd(e.promptPriceNanoUsdPerMillionTokens),
                        Money.formatUsd(e.completionPriceNanoUsdPerMillionTokens)),
                new EndpointRequests.Declared(e.declaredThroughputTps, e.declaredTtftMs),
                new EndpointRequests.Capacity(e.capacityTokensPerMinute, e.capacityMaxConcurrency),
                new BackendView(e.backendType, e.backendUrl, e.backendModel, e.backendApiKeyEncrypted != null,
                        e.backendMaxTokensPerSecond),
                e.status, SamplingParameter.wireNames(SamplingParameter.supportedBy(e.backendType, e.backendParameters)),
                e.priceVersion, e.createdAt, e.updatedAt);
    }
}
