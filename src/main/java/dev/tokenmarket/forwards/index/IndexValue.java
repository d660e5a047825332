package dev.tokenmarket.forwards.index;

import dev.tokenmarket.platform.Money;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** One published value of the index: a model's price for one UTC hour, provisional or final, with its inputs. */
record IndexValue(String model, Instant hourStart, Status status, Computed computed, Methodology methodology,
                  Instant computedAt) {

    static final Duration HOUR = Duration.ofHours(1);

    enum Status {
        PROVISIONAL, FINAL;

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Which rule of the chain produced a value. */
    enum Rule {
        SPOT, TRAILING_24H, LIST_PRICE, PREVIOUS, NONE;

        String wireName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * What the chain gave for an hour: the rule, the price (nano-USD per million ST; null only for
     * {@link Rule#NONE}), the digest and figures of that rule's inputs, the hour's own sales, and why the hour's
     * own sales did not suffice (null when they did).
     */
    record Computed(Rule rule, Long priceNanoUsdPerMillionSt, byte[] inputsSha256, Map<String, Object> inputs,
                    Map<String, Object> hour, String shortfall) {
    }

    Instant hourEnd() {
        return hourStart.plus(HOUR);
    }

    /** The value as the API answers it and Kafka carries it. */
    Map<String, Object> view() {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("model", model);
        v.put("hour_start", hourStart.toString());
        v.put("hour_end", hourEnd().toString());
        v.put("status", status.wireName());
        v.put("price", computed.priceNanoUsdPerMillionSt() == null ? null : Money.formatUsd(computed.priceNanoUsdPerMillionSt()));
        v.put("unit", "USD per million standard tokens");
        v.put("rule", computed.rule().wireName());
        v.put("shortfall", computed.shortfall());
        v.put("inputs", computed.inputs());
        v.put("inputs_sha256", HexFormat.of().formatHex(computed.inputsSha256()));
        v.put("hour", computed.hour());
        v.put("methodology_version", methodology.version());
        Map<String, Object> parameters = new LinkedHashMap<>();
        parameters.put("minimum_providers", methodology.minimumProviders());
        parameters.put("minimum_buyers", methodology.minimumBuyers());
        parameters.put("minimum_standard_tokens", methodology.minimumStandardTokens());
        parameters.put("concentration_cap_bps", methodology.concentrationCapBps());
        parameters.put("outlier_mads", methodology.outlierMads());
        v.put("methodology", parameters);
        v.put("computed_at", computedAt.toString());
        return v;
    }

    /** Thousandths of an ST as a plain decimal: 12345000 is "12345", 1500 is "1.5". */
    static String standardTokens(long milli) {
        return BigDecimal.valueOf(milli, 3).stripTrailingZeros().toPlainString();
    }
}
