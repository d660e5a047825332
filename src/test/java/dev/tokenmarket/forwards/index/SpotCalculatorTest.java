package dev.tokenmarket.forwards.index;

import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The index's arithmetic on sales built in memory: the rules the end-to-end tests cannot reach cheaply. */
class SpotCalculatorTest {

    private static final Methodology METHODOLOGY = new Methodology(Methodology.VERSION, 3, 3, 0, 3_000, 5);

    private static final UUID[] PROVIDERS = orgs(6);
    private static final UUID[] BUYERS = orgs(6);

    private static UUID[] orgs(int n) {
        UUID[] orgs = new UUID[n];
        for (int i = 0; i < n; i++) {
            orgs[i] = UUID.randomUUID();
        }
        return orgs;
    }

    /** A sale of {@code st} tokens (all prompt) at {@code priceUsd} per million, from provider p to buyer b. */
    private static void sale(Sales sales, int p, int b, int st, String priceUsd) {
        long cost = new BigDecimal(priceUsd).multiply(BigDecimal.valueOf(1_000L * st)).longValueExact();
        sales.add(UUID.randomUUID(), BUYERS[b], PROVIDERS[p], st, 0, st * 1_000L, cost);
    }

    @Test
    void threeProvidersCannotBeCappedAtThirtyPercentSoTheyGetEqualShares() {
        // Proves the infeasible cap (3 x 30% < 100%) gives each provider a third, whatever its ST.
        Sales sales = new Sales();
        for (int b = 0; b < 4; b++) {
            sale(sales, 0, b, 8_000, "1.00");
            sale(sales, 1, b, 1_000, "2.00");
            sale(sales, 2, b, 1_000, "3.00");
        }
        SpotCalculator.Outcome o = SpotCalculator.compute(sales, METHODOLOGY);
        // Equal thirds: (1 + 2 + 3) / 3 = 2.00, where the uncapped average is 1.30.
        assertEquals(2_000_000_000L, o.priceNanoUsdPerMillionSt());
        assertEquals(0, o.buyersCapped());
    }

    @Test
    void providersAndBuyersCappedTogetherEndWithEveryShareAtMostThirtyPercent() {
        // Proves the rounds converge when capping one side moves the other: provider 0 and buyer 0 dominate together.
        Sales sales = new Sales();
        sale(sales, 0, 0, 50_000, "1.00");
        for (int p = 1; p < 5; p++) {
            for (int b = 1; b < 5; b++) {
                sale(sales, p, b, 1_000 * p, "1.50");
            }
            sale(sales, p, 0, 2_000, "1.20");
            sale(sales, 0, p, 2_000, "1.10");
        }
        SpotCalculator.Outcome o = SpotCalculator.compute(sales, METHODOLOGY);
        assertTrue(o.capsMet(), "rounds " + o.capRounds());
        assertTrue(o.providersCapped() >= 1 && o.buyersCapped() >= 1, o.toString());
        assertEquals(o.priceNanoUsdPerMillionSt(), SpotCalculator.compute(sales, METHODOLOGY).priceNanoUsdPerMillionSt(),
                "the same sales give the same value");
    }

    @Test
    void everyShareIsAtMostTheCapOnceBothSidesAreCapped() {
        // Proves the capped weights themselves: provider 0 and buyer 0 carry 80% together before, at most 30% after.
        int[] provider = {0, 0, 1, 2, 3, 1, 2, 3};
        int[] buyer = {0, 1, 0, 0, 0, 2, 3, 1};
        long[] st = {80_000, 3_000, 3_000, 3_000, 3_000, 2_000, 2_000, 4_000};
        ConcentrationCaps.Result caps = ConcentrationCaps.apply(8, provider, buyer, st, 4, 4, 3_000);
        assertTrue(caps.met() && caps.binds(), caps.toString());
        BigDecimal[] byProvider = new BigDecimal[4];
        BigDecimal[] byBuyer = new BigDecimal[4];
        java.util.Arrays.fill(byProvider, BigDecimal.ZERO);
        java.util.Arrays.fill(byBuyer, BigDecimal.ZERO);
        BigDecimal total = BigDecimal.ZERO;
        for (int c = 0; c < 8; c++) {
            BigDecimal w = caps.providerFactors()[provider[c]].multiply(caps.buyerFactors()[buyer[c]]).multiply(BigDecimal.valueOf(st[c]));
            byProvider[provider[c]] = byProvider[provider[c]].add(w);
            byBuyer[buyer[c]] = byBuyer[buyer[c]].add(w);
            total = total.add(w);
        }
        BigDecimal limit = total.multiply(new BigDecimal("0.300000001"));
        for (int g = 0; g < 4; g++) {
            assertTrue(byProvider[g].compareTo(limit) <= 0, "provider " + g + ": " + byProvider[g] + " of " + total);
            assertTrue(byBuyer[g].compareTo(limit) <= 0, "buyer " + g + ": " + byBuyer[g] + " of " + total);
        }
    }

    @Test
    void theWeightedLowerMedianIsTheFirstValueReachingHalfTheWeight() {
        // Proves the median is one of the values, by weight: 3 has half the weight, so it is the median.
        assertEquals(3, SpotCalculator.weightedLowerMedian(new long[] {9, 3, 1}, new long[] {1, 2, 1}, 3));
        assertEquals(1, SpotCalculator.weightedLowerMedian(new long[] {9, 3, 1}, new long[] {1, 1, 2}, 3));
    }

    @Test
    void divisionRoundsHalfToEvenAndNeverOverflows() {
        // Proves the one rounding rule on exact quotients, including products beyond a long.
        assertEquals(2, SpotCalculator.divideHalfEven(5, 1, 2));
        assertEquals(4, SpotCalculator.divideHalfEven(7, 1, 2));
        assertEquals(3, SpotCalculator.divideHalfEven(10, 1, 3));
        long big = Long.MAX_VALUE / 3;
        assertEquals(new BigDecimal(big).multiply(BigDecimal.valueOf(1_000_000_000L))
                        .divide(BigDecimal.valueOf(999_999_937L), 0, RoundingMode.HALF_EVEN).longValueExact(),
                SpotCalculator.divideHalfEven(big, 1_000_000_000L, 999_999_937L));
    }

    @Test
    void belowAMinimumThereIsNoPriceAndTheShortfallSaysWhich() {
        // Proves the minimums are checked on the kept sales and named in the shortfall.
        Sales sales = new Sales();
        sale(sales, 0, 0, 1_000, "1.00");
        sale(sales, 1, 1, 1_000, "1.00");
        SpotCalculator.Outcome o = SpotCalculator.compute(sales, new Methodology(Methodology.VERSION, 3, 3, 10_000_000, 3_000, 5));
        assertNull(o.priceNanoUsdPerMillionSt());
        assertEquals("2 providers (minimum 3), 2 buyers (minimum 3), 2000 standard tokens (minimum 10000000)", o.shortfall());
    }
}
