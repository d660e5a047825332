package dev.tokenmarket.metering;

import java.time.Instant;
import java.util.UUID;

/**
 * What one served request used and costs: the message on topic {@code tokenmarket.usage.v1}, keyed by the
 * buyer organization. The event id is the generation id; the ledger settles each id once.
 */
public record UsageEvent(
        UUID eventId,
        Instant occurredAt,
        UUID buyerOrgId,
        UUID apiKeyId,
        UUID endpointId,
        UUID providerOrgId,
        String model,
        int promptTokens,
        int completionTokens,
        long promptPriceNanoUsdPerMillionTokens,
        long completionPriceNanoUsdPerMillionTokens,
        long costNanoUsd,
        long feeNanoUsd,
        UUID holdId,
        long ttftMs,
        long generationMs,
        long latencyMs,
        String finishReason) {

    public static final String TOPIC = "tokenmarket.usage.v1";
    public static final String DEAD_LETTER_TOPIC = "tokenmarket.usage.v1.dlq";
    public static final String SCHEMA = "tokenmarket.usage.v1";
}
