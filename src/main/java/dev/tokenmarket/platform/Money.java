package dev.tokenmarket.platform;

import dev.tokenmarket.platform.error.ApiException;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.regex.Pattern;

/**
 * Money is a {@code long} of nano-USD (1e-9 USD) everywhere it is computed; it becomes a decimal string
 * in USD only at the edge, in JSON. No floating point touches an amount.
 */
public final class Money {

    public static final long NANO_PER_USD = 1_000_000_000L;
    private static final int NANO_SCALE = 9;
    private static final BigInteger MILLION = BigInteger.valueOf(1_000_000);
    private static final BigInteger BPS_PER_UNIT = BigInteger.valueOf(10_000);
    /** Upper bound on any single amount a client may send: one billion USD. */
    public static final long AMOUNT_NANO_USD_MAX = 1_000_000_000L * NANO_PER_USD;
    private static final Pattern USD_DECIMAL = Pattern.compile("\\d{1,12}(\\.\\d{1,9})?");

    private Money() {
    }

    /** {@code 600000000} becomes {@code "0.60"}; at least two decimals, at most nine, no trailing zeros past two. */
    public static String formatUsd(long amountNanoUsd) {
        if (amountNanoUsd == Long.MIN_VALUE) {
            return formatUsdExact(amountNanoUsd);
        }
        // Written by hand: the ledger formats several amounts for every usage event it settles.
        long magnitude = Math.abs(amountNanoUsd);
        long fraction = magnitude % NANO_PER_USD;
        int digits = NANO_SCALE;
        while (digits > 2 && fraction % 10 == 0) {
            fraction /= 10;
            digits--;
        }
        StringBuilder out = new StringBuilder(24);
        if (amountNanoUsd < 0) {
            out.append('-');
        }
        out.append(magnitude / NANO_PER_USD).append('.');
        String fractionDigits = Long.toString(fraction);
        out.repeat('0', digits - fractionDigits.length()).append(fractionDigits);
        return out.toString();
    }

    /** {@link #formatUsd} by BigDecimal: the definition the hand-written form must agree with. */
    static String formatUsdExact(long amountNanoUsd) {
        BigDecimal usd = BigDecimal.valueOf(amountNanoUsd, NANO_SCALE).stripTrailingZeros();
        if (usd.scale() < 2) {
            usd = usd.setScale(2, RoundingMode.UNNECESSARY);
        }
        return usd.toPlainString();
    }

    /**
     * Parses a USD decimal string such as {@code "0.60"} into nano-USD. Rejects more than nine decimals,
     * negatives, exponents and amounts beyond {@link #AMOUNT_NANO_USD_MAX}, naming {@code field} in the error.
     */
    public static long parseUsd(String value, String field) {
        if (value == null || value.isBlank()) {
            throw ApiException.invalid(field, "Field '" + field + "' is required: a USD amount as a decimal string such as \"0.60\".");
        }
        long parsed = parsePlainUsd(value);
        if (parsed >= 0 && parsed <= AMOUNT_NANO_USD_MAX) {
            return parsed;
        }
        if (!USD_DECIMAL.matcher(value).matches()) {
            throw ApiException.invalid(field, "Field '" + field + "' must be a non-negative USD decimal string with at most 9 decimals, such as \"0.60\"; got \"" + value + "\".");
        }
        // Compared before narrowing: twelve integer digits of USD do not fit a long of nano-USD.
        BigDecimal nano = new BigDecimal(value).movePointRight(NANO_SCALE);
        if (nano.compareTo(BigDecimal.valueOf(AMOUNT_NANO_USD_MAX)) > 0) {
            throw ApiException.invalid(field, "Field '" + field + "' is above the limit of " + formatUsd(AMOUNT_NANO_USD_MAX) + " USD.");
        }
        return nano.longValueExact();
    }

    /**
     * Nano-USD of a string of the USD_DECIMAL shape (1 to 12 digits, optionally a point and 1 to 9 digits),
     * or -1 for anything else; the regular expression then decides what the error says.
     */
    private static long parsePlainUsd(String value) {
        int length = value.length();
        long whole = 0;
        int i = 0;
        while (i < length && i < 13 && isDigit(value.charAt(i))) {
            whole = whole * 10 + (value.charAt(i) - '0');
            i++;
        }
        if (i == 0 || i > 12) {
            return -1;
        }
        long fraction = 0;
        int fractionDigits = 0;
        if (i < length) {
            if (value.charAt(i) != '.' || i + 1 == length) {
                return -1;
            }
            for (i++; i < length; i++) {
                if (!isDigit(value.charAt(i)) || ++fractionDigits > NANO_SCALE) {
                    return -1;
                }
                fraction = fraction * 10 + (value.charAt(i) - '0');
            }
        }
        for (int d = fractionDigits; d < NANO_SCALE; d++) {
            fraction *= 10;
        }
        return whole * NANO_PER_USD + fraction;
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    /**
     * Cost of a request: prompt tokens at the prompt price plus completion tokens at the completion price,
     * prices per million tokens, rounded half-even to the nano-USD.
     */
    public static long cost(long promptTokens, long promptPriceNanoUsdPerMillionTokens,
                            long completionTokens, long completionPriceNanoUsdPerMillionTokens) {
        if (promptTokens >= 0 && completionTokens >= 0 && promptPriceNanoUsdPerMillionTokens >= 0
                && completionPriceNanoUsdPerMillionTokens >= 0) {
            try {
                long numerator = Math.addExact(Math.multiplyExact(promptTokens, promptPriceNanoUsdPerMillionTokens),
                        Math.multiplyExact(completionTokens, completionPriceNanoUsdPerMillionTokens));
                return divideHalfEven(numerator, 1_000_000L);
            } catch (ArithmeticException tooLargeForALong) {
                // falls through to exact arithmetic
            }
        }
        BigInteger numerator = BigInteger.valueOf(promptTokens).multiply(BigInteger.valueOf(promptPriceNanoUsdPerMillionTokens))
                .add(BigInteger.valueOf(completionTokens).multiply(BigInteger.valueOf(completionPriceNanoUsdPerMillionTokens)));
        return divideHalfEven(numerator, MILLION);
    }

    /** Platform fee: cost times basis points over 10,000, rounded half-even to the nano-USD. */
    public static long fee(long costNanoUsd, int feeBasisPoints) {
        return divideHalfEven(BigInteger.valueOf(costNanoUsd).multiply(BigInteger.valueOf(feeBasisPoints)), BPS_PER_UNIT);
    }

    /** Half-even division of a non-negative numerator by a positive denominator. */
    private static long divideHalfEven(long numerator, long denominator) {
        long quotient = numerator / denominator;
        long twiceRemainder = 2 * (numerator % denominator);
        if (twiceRemainder > denominator || (twiceRemainder == denominator && (quotient & 1) == 1)) {
            quotient++;
        }
        return quotient;
    }

    private static long divideHalfEven(BigInteger numerator, BigInteger denominator) {
        return new BigDecimal(numerator).divide(new BigDecimal(denominator), 0, RoundingMode.HALF_EVEN).longValueExact();
    }
}
