package dev.tokenmarket.catalog;

import java.util.List;

/** Request bodies of the provider API, as clients send them (snake_case on the wire). */
public final class EndpointRequests {

    private EndpointRequests() {
    }

    /** USD per one million tokens, as decimal strings. */
    public record Pricing(String prompt, String completion) {
    }

    public record Declared(Integer throughputTps, Integer ttftMs) {
    }

    public record Capacity(Integer tokensPerMinute, Integer maxConcurrency) {
    }

    public record Backend(String type, String url, String apiKey, String model, Integer maxTokensPerSecond) {
    }

    /** {@code supportedParameters}: for an OpenAI-compatible backend, the optional parameters it takes. */
    public record CreateEndpoint(String model, String hardware, String hardwareClass, String region, Pricing pricing,
                                 Declared declared, Capacity capacity, Backend backend, List<String> supportedParameters) {
    }

    /** Every field optional: only what is present changes. */
    public record UpdateEndpoint(Pricing pricing, Capacity capacity, Declared declared, String status,
                                 List<String> supportedParameters) {
    }
}
