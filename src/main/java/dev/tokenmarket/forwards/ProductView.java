package dev.tokenmarket.forwards;

import dev.tokenmarket.platform.Money;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.UUID;

/** A product as the API shows it: amounts in USD per contract, ST weights as decimals. */
public record ProductView(long id, String code, String model, List<UUID> endpoints, String tick, long lot,
                          Products.PriceBand priceBand, int bondRateBps, int makerFeeBps, int takerFeeBps,
                          Weights weights, long standardTokensPerContract, boolean traderShortsAllowed,
                          Instant createdAt) {

    public record Weights(String prompt, String cached, String completion) {
    }

    static ProductView of(Product p) {
        return new ProductView(p.id(), p.code(), p.model(), p.extraEndpointIds(), Money.formatUsd(p.tickNanoUsd()),
                p.lotContracts(), new Products.PriceBand(Money.formatUsd(p.priceMinNanoUsd()), Money.formatUsd(p.priceMaxNanoUsd())),
                p.bondRateBps(), p.makerFeeBps(), p.takerFeeBps(),
                new Weights(milli(Product.PROMPT_WEIGHT_MILLI), milli(p.cachedWeightMilli()), milli(p.completionWeightMilli())),
                Product.ST_PER_CONTRACT, p.traderShortsAllowed(), p.createdAt());
    }

    private static String milli(long milli) {
        return BigDecimal.valueOf(milli, 3).stripTrailingZeros().toPlainString();
    }
}
