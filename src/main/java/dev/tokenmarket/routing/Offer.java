package dev.tokenmarket.routing;

import dev.tokenmarket.catalog.SamplingParameter;

import java.util.UUID;

/**
 * An endpoint's standing offer as the router sees it: an immutable snapshot, so a request is matched and
 * billed at the price version it saw even if the provider changes the price mid-flight.
 * {@code backendTokensPerSecondMax} paces a reference endpoint; 0 is unpaced. {@code supportedParameters}
 * is a mask of {@link SamplingParameter}s the backend accepts.
 */
public record Offer(UUID endpointId, UUID providerOrgId, String providerName, String model, String hardware,
                    String hardwareClass, String region,
                    long promptPriceNanoUsdPerMillionTokens, long completionPriceNanoUsdPerMillionTokens,
                    int priceVersion, int declaredThroughputTps, int declaredTtftMs,
                    int capacityTokensPerMinute, int capacityMaxConcurrency,
                    String backendType, String backendUrl, String backendApiKeyEncrypted, String backendModel,
                    int backendTokensPerSecondMax, long supportedParameters) {

    /** Sum of both prices per million tokens: the figure "cheapest" sorts by. */
    public long combinedPriceNanoUsdPerMillionTokens() {
        return promptPriceNanoUsdPerMillionTokens + completionPriceNanoUsdPerMillionTokens;
    }
}
