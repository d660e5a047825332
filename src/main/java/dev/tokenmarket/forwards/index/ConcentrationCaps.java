package dev.tokenmarket.forwards.index;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Arrays;

/**
 * Caps the share of the weight any one provider and any one buyer carries, as capped indices do: a group
 * above the cap is scaled down to exactly the cap and its excess goes to the others in proportion to their
 * weight. Providers and buyers are capped in turn, round after round, until a round changes nothing (each
 * share at most the cap, to within {@link #TOLERANCE}) or {@value #ROUNDS_MAX} rounds have run. Where the
 * cap cannot hold (fewer groups than 1 / cap), the groups of that side get equal shares.
 *
 * <p>Works on cells: the weight (standard tokens) of each provider and buyer pair. Factors are decimals of
 * 34 significant digits (IEEE 754 decimal128, rounded half-even); sums and products of them are exact.
 */
final class ConcentrationCaps {

    static final int ROUNDS_MAX = 100;
    /** A share counts as over the cap only beyond cap x (1 + this), below what the published price resolves. */
    static final BigDecimal TOLERANCE = new BigDecimal("1e-9");
    private static final MathContext DECIMAL128 = MathContext.DECIMAL128;
    private static final BigDecimal BPS = BigDecimal.valueOf(10_000);

    /** The factor each provider's and buyer's weight is multiplied by (null: no cap binds, every factor is one). */
    record Result(BigDecimal[] providerFactors, BigDecimal[] buyerFactors, int rounds, boolean met,
                  int providersCapped, int buyersCapped) {

        static final Result NONE = new Result(null, null, 0, true, 0, 0);

        boolean binds() {
            return providerFactors != null;
        }
    }

    private ConcentrationCaps() {
    }

    static Result apply(int cells, int[] cellProvider, int[] cellBuyer, long[] cellWeight, int providers, int buyers,
                        int capBps) {
        if (!anyOver(cells, cellProvider, cellWeight, providers, capBps)
                && !anyOver(cells, cellBuyer, cellWeight, buyers, capBps)) {
            return Result.NONE;
        }
        BigDecimal[] a = ones(providers);
        BigDecimal[] b = ones(buyers);
        BigDecimal cap = BigDecimal.valueOf(capBps).divide(BPS);
        int rounds = 0;
        boolean changed = true;
        while (changed && rounds < ROUNDS_MAX) {
            rounds++;
            changed = capSide(cells, cellProvider, cellBuyer, cellWeight, a, b, cap, capBps);
            changed |= capSide(cells, cellBuyer, cellProvider, cellWeight, b, a, cap, capBps);
        }
        return new Result(a, b, rounds, !changed, capped(a), capped(b));
    }

    private static BigDecimal[] ones(int n) {
        BigDecimal[] f = new BigDecimal[n];
        Arrays.fill(f, BigDecimal.ONE);
        return f;
    }

    private static int capped(BigDecimal[] factors) {
        int n = 0;
        for (BigDecimal f : factors) {
            if (f.compareTo(BigDecimal.ONE) != 0) {
                n++;
            }
        }
        return n;
    }

    /** Exact check on the unscaled weights: does any group carry more than the cap (or 1/n when that is more)? */
    private static boolean anyOver(int cells, int[] cellGroup, long[] cellWeight, int groups, int capBps) {
        long[] w = new long[groups];
        long total = 0;
        for (int c = 0; c < cells; c++) {
            w[cellGroup[c]] += cellWeight[c];
            total += cellWeight[c];
        }
        int present = 0;
        for (long g : w) {
            if (g > 0) {
                present++;
            }
        }
        for (long g : w) {
            boolean overCap = BigDecimal.valueOf(g).multiply(BPS).compareTo(BigDecimal.valueOf(total).multiply(BigDecimal.valueOf(capBps))) > 0;
            boolean overEqual = BigDecimal.valueOf(g).multiply(BigDecimal.valueOf(present)).compareTo(BigDecimal.valueOf(total)) > 0;
            if (overCap && overEqual) {
                return true;
            }
        }
        return false;
    }

    /**
     * One side's step: with the other side's factors fixed, scales down this side's groups above the cap.
     * Answers whether any factor changed.
     */
    private static boolean capSide(int cells, int[] cellGroup, int[] cellOther, long[] cellWeight,
                                   BigDecimal[] factors, BigDecimal[] otherFactors, BigDecimal cap, int capBps) {
        int groups = factors.length;
        // (group) weight before this side's factor, and after it
        BigDecimal[] unscaled = new BigDecimal[groups];
        Arrays.fill(unscaled, BigDecimal.ZERO);
        for (int c = 0; c < cells; c++) {
            unscaled[cellGroup[c]] = unscaled[cellGroup[c]].add(otherFactors[cellOther[c]].multiply(BigDecimal.valueOf(cellWeight[c])));
        }
        BigDecimal[] weight = new BigDecimal[groups];
        BigDecimal total = BigDecimal.ZERO;
        int present = 0;
        for (int g = 0; g < groups; g++) {
            weight[g] = factors[g].multiply(unscaled[g]);
            total = total.add(weight[g]);
            if (unscaled[g].signum() > 0) {
                present++;
            }
        }
        BigDecimal slack = BigDecimal.ONE.add(TOLERANCE);
        if ((long) capBps * present <= 10_000) {
            // The cap cannot hold for so few groups: equal shares are the nearest to it.
            BigDecimal n = BigDecimal.valueOf(present);
            boolean over = false;
            for (int g = 0; g < groups; g++) {
                over |= weight[g].multiply(n).compareTo(total.multiply(slack)) > 0;
            }
            if (!over) {
                return false;
            }
            for (int g = 0; g < groups; g++) {
                if (unscaled[g].signum() > 0) {
                    factors[g] = total.divide(n.multiply(unscaled[g]), DECIMAL128);
                }
            }
            return true;
        }
        BigDecimal limit = cap.multiply(total).multiply(slack);
        boolean over = false;
        for (int g = 0; g < groups; g++) {
            over |= weight[g].compareTo(limit) > 0;
        }
        if (!over) {
            return false;
        }
        int[] heaviestFirst = Sort.ascending(groups, (x, y) -> weight[y].compareTo(weight[x]));
        // Cap the k heaviest, fewest first, until the next heaviest fits under the cap of what remains:
        // with k groups at the cap, the rest share 1 - k x cap in proportion to their weights.
        BigDecimal rest = total;
        int k = 0;
        while (k < present - 1) {
            rest = rest.subtract(weight[heaviestFirst[k]]);
            k++;
            BigDecimal restShare = BigDecimal.ONE.subtract(cap.multiply(BigDecimal.valueOf(k)));
            if (weight[heaviestFirst[k]].multiply(restShare).compareTo(cap.multiply(rest)) <= 0) {
                BigDecimal target = cap.multiply(rest).divide(restShare, DECIMAL128);
                for (int i = 0; i < k; i++) {
                    int g = heaviestFirst[i];
                    factors[g] = target.divide(unscaled[g], DECIMAL128);
                }
                return true;
            }
        }
        throw new IllegalStateException("capping found no split although the cap can hold for " + present + " groups");
    }
}
