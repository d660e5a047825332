package dev.tokenmarket.forwards.index;

import dev.tokenmarket.catalog.ListedPrices;
import dev.tokenmarket.platform.Money;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * An hour's value by the chain of rules (docs/index-methodology.md): the hour's own sales; else the trailing
 * 24 hours' sales; else the list prices of the model's active endpoints; else the previous value; else none.
 */
@ApplicationScoped
class IndexComputation {

    static final Duration TRAILING = Duration.ofHours(24);

    @Inject
    SaleReader sales;

    @Inject
    ListedPrices listedPrices;

    @Inject
    StandardTokenWeights standardTokenWeights;

    @Inject
    IndexStore store;

    IndexValue.Computed compute(String model, Instant hourStart, Methodology m) {
        Instant hourEnd = hourStart.plus(IndexValue.HOUR);
        Sales hourSales = sales.read(model, hourStart, hourEnd);
        SpotCalculator.Outcome hour = SpotCalculator.compute(hourSales, m);
        Map<String, Object> hourView = salesView(hourSales, hour, hourStart, hourEnd);
        if (hour.priceNanoUsdPerMillionSt() != null) {
            return new IndexValue.Computed(IndexValue.Rule.SPOT, hour.priceNanoUsdPerMillionSt(), hourSales.sha256(),
                    hourView, hourView, null);
        }
        String shortfall = hour.shortfall();
        Instant trailingStart = hourEnd.minus(TRAILING);
        Sales trailingSales = sales.read(model, trailingStart, hourEnd);
        SpotCalculator.Outcome trailing = SpotCalculator.compute(trailingSales, m);
        if (trailing.priceNanoUsdPerMillionSt() != null) {
            return new IndexValue.Computed(IndexValue.Rule.TRAILING_24H, trailing.priceNanoUsdPerMillionSt(),
                    trailingSales.sha256(), salesView(trailingSales, trailing, trailingStart, hourEnd), hourView, shortfall);
        }
        List<ListedPrices.ListedPrice> listed = listedPrices.active(model, hourEnd);
        if (!listed.isEmpty()) {
            // The hour's mix of prompt and completion tokens, else the trailing day's, else one of each.
            long prompt = hour.promptTokens() + hour.completionTokens() > 0 ? hour.promptTokens() : trailing.promptTokens();
            long completion = hour.promptTokens() + hour.completionTokens() > 0 ? hour.completionTokens() : trailing.completionTokens();
            if (prompt + completion == 0) {
                prompt = 1;
                completion = 1;
            }
            return listPrice(listed, prompt, completion, standardTokenWeights.of(model), hourView, shortfall);
        }
        IndexStore.Stored previous = store.latestPricedBefore(model, hourStart);
        if (previous != null) {
            Map<String, Object> inputs = new LinkedHashMap<>();
            inputs.put("hour_start", previous.hourStart().toString());
            inputs.put("status", previous.status());
            inputs.put("rule", previous.rule());
            inputs.put("inputs_sha256", HexFormat.of().formatHex(previous.inputsSha256()));
            byte[] digest = sha256("previous," + previous.hourStart() + "," + previous.status() + ","
                    + previous.priceNanoUsdPerMillionSt() + "," + HexFormat.of().formatHex(previous.inputsSha256()) + "\n");
            return new IndexValue.Computed(IndexValue.Rule.PREVIOUS, previous.priceNanoUsdPerMillionSt(), digest, inputs,
                    hourView, shortfall);
        }
        return new IndexValue.Computed(IndexValue.Rule.NONE, null, sha256("none\n"), Map.of(), hourView, shortfall);
    }

    /**
     * The active endpoints' list prices per million ST for the given token mix, averaged with equal weight per
     * endpoint and rounded half-even once: sum over endpoints of (P x prompt price + C x completion price), over
     * the endpoint count times the mix's ST.
     */
    static IndexValue.Computed listPrice(List<ListedPrices.ListedPrice> listed, long prompt, long completion,
                                         StandardTokenWeights.Weights weights, Map<String, Object> hourView,
                                         String shortfall) {
        BigInteger costs = BigInteger.ZERO;
        MessageDigest digest = Sales.sha256Digest();
        List<Map<String, Object>> rows = new ArrayList<>();
        Set<UUID> providers = new HashSet<>();
        for (ListedPrices.ListedPrice e : listed) {
            costs = costs.add(BigInteger.valueOf(prompt).multiply(BigInteger.valueOf(e.promptPriceNanoUsdPerMillionTokens()))
                    .add(BigInteger.valueOf(completion).multiply(BigInteger.valueOf(e.completionPriceNanoUsdPerMillionTokens()))));
            digest.update((e.endpointId() + "," + e.providerOrgId() + "," + e.promptPriceNanoUsdPerMillionTokens() + ","
                    + e.completionPriceNanoUsdPerMillionTokens() + "\n").getBytes(StandardCharsets.US_ASCII));
            providers.add(e.providerOrgId());
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("endpoint_id", e.endpointId());
            row.put("provider_org_id", e.providerOrgId());
            row.put("prompt", Money.formatUsd(e.promptPriceNanoUsdPerMillionTokens()));
            row.put("completion", Money.formatUsd(e.completionPriceNanoUsdPerMillionTokens()));
            rows.add(row);
        }
        digest.update(("mix," + prompt + "," + completion + "\n").getBytes(StandardCharsets.US_ASCII));
        BigInteger stMilli = BigInteger.valueOf(weights.standardTokensMilli(prompt, completion));
        // Prices are per million tokens: per million ST is cost x 1000 / ST in thousandths.
        long price = new BigDecimal(costs.multiply(BigInteger.valueOf(1_000)))
                .divide(new BigDecimal(stMilli.multiply(BigInteger.valueOf(listed.size()))), 0, RoundingMode.HALF_EVEN)
                .longValueExact();
        Map<String, Object> inputs = new LinkedHashMap<>();
        inputs.put("generations", 0);
        inputs.put("endpoints", listed.size());
        inputs.put("providers", providers.size());
        inputs.put("mix_prompt_tokens", prompt);
        inputs.put("mix_completion_tokens", completion);
        inputs.put("listed", rows);
        return new IndexValue.Computed(IndexValue.Rule.LIST_PRICE, price, digest.digest(), inputs, hourView, shortfall);
    }

    private static Map<String, Object> salesView(Sales s, SpotCalculator.Outcome o, Instant from, Instant to) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("window_start", from.toString());
        v.put("window_end", to.toString());
        v.put("generations", o.generations());
        v.put("standard_tokens", IndexValue.standardTokens(o.standardTokensMilli()));
        v.put("providers", o.providers());
        v.put("buyers", o.buyers());
        v.put("candidates", o.candidates());
        v.put("outliers_dropped", o.outliersDropped());
        v.put("median_price", Money.formatUsd(o.medianNanoUsdPerMillionSt()));
        v.put("median_absolute_deviation", Money.formatUsd(o.madNanoUsdPerMillionSt()));
        v.put("providers_capped", o.providersCapped());
        v.put("buyers_capped", o.buyersCapped());
        v.put("cap_rounds", o.capRounds());
        v.put("caps_met", o.capsMet());
        v.put("unsettled", s.unsettled);
        v.put("self_trades_excluded", s.selfTrades);
        v.put("forward_deliveries_excluded", s.forwardDeliveries);
        v.put("without_tokens", s.withoutTokens);
        return v;
    }

    private static byte[] sha256(String text) {
        return Sales.sha256Digest().digest(text.getBytes(StandardCharsets.US_ASCII));
    }
}
