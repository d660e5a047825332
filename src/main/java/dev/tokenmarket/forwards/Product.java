package dev.tokenmarket.forwards;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A listed forward product: what a contract delivers (1,000,000 ST of a model) and the rules of its books.
 * Prices are nano-USD per contract; ST weights in thousandths.
 */
public record Product(long id, String code, String model, List<UUID> extraEndpointIds, long tickNanoUsd,
                      long lotContracts, long priceMinNanoUsd, long priceMaxNanoUsd, int bondRateBps,
                      int makerFeeBps, int takerFeeBps, long cachedWeightMilli, long completionWeightMilli,
                      boolean traderShortsAllowed, Instant createdAt) {

    /** Standard tokens in one contract. */
    public static final long ST_PER_CONTRACT = 1_000_000;
    /** The prompt token's weight: the unit the others are measured in. */
    public static final long PROMPT_WEIGHT_MILLI = 1_000;
}
