package dev.tokenmarket.platform;

import dev.tokenmarket.platform.error.ApiException;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Amounts are formatted, parsed and priced by hand-written code on the ledger's hot path; these tests hold
 * it to the BigDecimal definitions for edge cases and a few hundred thousand random amounts.
 */
class MoneyTest {

    @Test
    void formatsLikeTheDecimalDefinition() {
        assertEquals("0.60", Money.formatUsd(600_000_000L));
        assertEquals("0.00", Money.formatUsd(0));
        assertEquals("0.000000001", Money.formatUsd(1));
        assertEquals("-0.000000005", Money.formatUsd(-5));
        assertEquals("1000000000.00", Money.formatUsd(Money.AMOUNT_NANO_USD_MAX));
        long[] edges = {0, 1, -1, 9, 10, 99, 100, 999_999_999L, 1_000_000_000L, 1_000_000_001L, 1_230_000_000L,
                -1_230_000_000L, Long.MAX_VALUE, Long.MIN_VALUE, Long.MIN_VALUE + 1};
        for (long amount : edges) {
            assertEquals(Money.formatUsdExact(amount), Money.formatUsd(amount), "amount " + amount);
        }
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 200_000; i++) {
            long amount = random.nextLong() >> random.nextInt(64);
            assertEquals(Money.formatUsdExact(amount), Money.formatUsd(amount), "amount " + amount);
        }
    }

    @Test
    void parsesWhatItFormatsAndRefusesWhatIsNotAPlainUsdAmount() {
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            long amount = random.nextLong(Money.AMOUNT_NANO_USD_MAX + 1) >> random.nextInt(60);
            assertEquals(amount, Money.parseUsd(Money.formatUsd(amount), "amount"));
        }
        assertEquals(600_000_000L, Money.parseUsd("0.6", "price"));
        assertEquals(1_000_000_000L, Money.parseUsd("1", "price"));
        assertEquals(12_000_000_000L, Money.parseUsd("000012", "price"));
        assertEquals(1L, Money.parseUsd("0.000000001", "price"));
        assertEquals(Money.AMOUNT_NANO_USD_MAX, Money.parseUsd("1000000000", "price"));
        for (String bad : new String[] {"", " ", "-1", "+1", "1.", ".5", "1.0000000001", "1e3", "0x10", "1,5", "1.2.3",
                "1000000000.000000001", "9999999999999", "١"}) {
            ApiException refused = assertThrows(ApiException.class, () -> Money.parseUsd(bad, "price"), bad);
            assertTrue(refused.getMessage().contains("price"), refused.getMessage());
        }
    }

    @Test
    void pricesRequestsHalfEvenLikeTheDecimalDefinition() {
        assertEquals(0, Money.cost(0, 1_000_000_000L, 0, 2_000_000_000L));
        assertEquals(2, Money.cost(0, 0, 5, 500_000L), "2.5 nano-USD rounds to even");
        assertEquals(4, Money.cost(0, 0, 7, 500_000L), "3.5 nano-USD rounds to even");
        assertEquals(412_000L, Money.cost(12, 1_000_000_000L, 200, 2_000_000_000L));
        SplittableRandom random = new SplittableRandom(3);
        for (int i = 0; i < 200_000; i++) {
            long promptTokens = random.nextLong(1L << random.nextInt(1, 40));
            long completionTokens = random.nextLong(1L << random.nextInt(1, 40));
            long promptPrice = random.nextLong(1L << random.nextInt(1, 50));
            long completionPrice = random.nextLong(1L << random.nextInt(1, 50));
            BigDecimal exact = new BigDecimal(BigInteger.valueOf(promptTokens).multiply(BigInteger.valueOf(promptPrice))
                    .add(BigInteger.valueOf(completionTokens).multiply(BigInteger.valueOf(completionPrice))))
                    .divide(BigDecimal.valueOf(1_000_000), 0, RoundingMode.HALF_EVEN);
            if (exact.toBigInteger().bitLength() < 63) {
                assertEquals(exact.longValueExact(), Money.cost(promptTokens, promptPrice, completionTokens, completionPrice));
            }
        }
    }
}
