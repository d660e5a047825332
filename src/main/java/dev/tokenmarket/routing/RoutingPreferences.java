package dev.tokenmarket.routing;

import dev.tokenmarket.catalog.SamplingParameter;

import java.util.List;

/**
 * The buyer's {@code provider} object: how to sort candidates and which to keep. Entries of
 * {@code order}, {@code only} and {@code ignore} name an endpoint id, a provider organization id or a
 * provider name (case-insensitive). {@code requiredParameters} is a mask of {@link SamplingParameter}s every
 * candidate's backend must accept (0: none).
 */
public record RoutingPreferences(String sort, List<String> order, List<String> only, List<String> ignore,
                                 boolean allowFallbacks, Long maxPromptPriceNanoUsdPerMillionTokens,
                                 Long maxCompletionPriceNanoUsdPerMillionTokens, Integer preferredMinThroughputTps,
                                 Integer preferredMaxLatencyMs, long requiredParameters) {

    public static final RoutingPreferences DEFAULT =
            new RoutingPreferences(null, List.of(), List.of(), List.of(), true, null, null, null, null, 0);

    /** The same preferences, matching only endpoints whose backends accept every parameter in the mask. */
    public RoutingPreferences requiring(long parameters) {
        return new RoutingPreferences(sort, order, only, ignore, allowFallbacks, maxPromptPriceNanoUsdPerMillionTokens,
                maxCompletionPriceNanoUsdPerMillionTokens, preferredMinThroughputTps, preferredMaxLatencyMs, parameters);
    }
}
