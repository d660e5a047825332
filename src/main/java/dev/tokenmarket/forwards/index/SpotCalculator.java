package dev.tokenmarket.forwards.index;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The robust ST-weighted average of a window's sales (docs/index-methodology.md), in integers and exact
 * decimals: each sale's price, the weighted median and median absolute deviation, the outlier rule, the
 * minimums, the concentration caps, and the average rounded once.
 */
final class SpotCalculator {

    /** Nano-USD per million ST from nano-USD per thousandth of an ST. */
    private static final long PER_MILLION_ST_FROM_MILLI = 1_000_000_000L;

    private SpotCalculator() {
    }

    /** What the window's sales give: a price, or why they do not (the shortfall against the minimums). */
    record Outcome(Long priceNanoUsdPerMillionSt, String shortfall, int candidates, int generations,
                   long standardTokensMilli, int providers, int buyers, int outliersDropped,
                   long medianNanoUsdPerMillionSt, long madNanoUsdPerMillionSt, int providersCapped, int buyersCapped,
                   int capRounds, boolean capsMet, long promptTokens, long completionTokens) {
    }

    static Outcome compute(Sales sales, Methodology m) {
        int n = sales.size;
        if (n == 0) {
            return new Outcome(null, "no settled spot sales", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, true, 0, 0);
        }
        long[] st = sales.standardTokensMilli;
        long[] price = new long[n];
        for (int i = 0; i < n; i++) {
            price[i] = divideHalfEven(sales.costNanoUsd[i], PER_MILLION_ST_FROM_MILLI, st[i]);
        }
        long median = weightedLowerMedian(price, st, n);
        long[] deviation = new long[n];
        for (int i = 0; i < n; i++) {
            deviation[i] = Math.abs(price[i] - median);
        }
        long mad = weightedLowerMedian(deviation, st, n);
        long reach = Math.multiplyExact(mad, (long) m.outlierMads());

        // Cells: the kept weight and cost of each (provider, buyer) pair.
        Map<Long, Integer> cellOf = new HashMap<>();
        List<long[]> cells = new ArrayList<>();
        boolean[] providerSeen = new boolean[sales.providers.size()];
        boolean[] buyerSeen = new boolean[sales.buyers.size()];
        int kept = 0;
        long keptSt = 0;
        long prompt = 0;
        long completion = 0;
        for (int i = 0; i < n; i++) {
            if (mad > 0 && deviation[i] > reach) {
                continue;
            }
            kept++;
            keptSt = Math.addExact(keptSt, st[i]);
            prompt += sales.promptTokens[i];
            completion += sales.completionTokens[i];
            providerSeen[sales.provider[i]] = true;
            buyerSeen[sales.buyer[i]] = true;
            long key = (long) sales.provider[i] << 32 | sales.buyer[i];
            Integer cell = cellOf.get(key);
            if (cell == null) {
                cell = cells.size();
                cellOf.put(key, cell);
                cells.add(new long[] {sales.provider[i], sales.buyer[i], 0, 0});
            }
            long[] c = cells.get(cell);
            c[2] = Math.addExact(c[2], st[i]);
            c[3] = Math.addExact(c[3], sales.costNanoUsd[i]);
        }
        int providers = count(providerSeen);
        int buyers = count(buyerSeen);
        int dropped = n - kept;
        String shortfall = shortfall(providers, buyers, keptSt, m);
        if (shortfall != null) {
            return new Outcome(null, shortfall, n, kept, keptSt, providers, buyers, dropped, median, mad, 0, 0, 0, true,
                    prompt, completion);
        }
        int cellCount = cells.size();
        int[] cellProvider = new int[cellCount];
        int[] cellBuyer = new int[cellCount];
        long[] cellSt = new long[cellCount];
        long[] cellCost = new long[cellCount];
        for (int c = 0; c < cellCount; c++) {
            long[] cell = cells.get(c);
            cellProvider[c] = (int) cell[0];
            cellBuyer[c] = (int) cell[1];
            cellSt[c] = cell[2];
            cellCost[c] = cell[3];
        }
        ConcentrationCaps.Result caps = ConcentrationCaps.apply(cellCount, cellProvider, cellBuyer, cellSt,
                sales.providers.size(), sales.buyers.size(), m.concentrationCapBps());
        long value = caps.binds()
                ? cappedAverage(caps, cellCount, cellProvider, cellBuyer, cellSt, cellCost)
                : plainAverage(cellCount, cellSt, cellCost);
        return new Outcome(value, null, n, kept, keptSt, providers, buyers, dropped, median, mad, caps.providersCapped(),
                caps.buyersCapped(), caps.rounds(), caps.met(), prompt, completion);
    }

    private static int count(boolean[] seen) {
        int n = 0;
        for (boolean s : seen) {
            if (s) {
                n++;
            }
        }
        return n;
    }

    /** Null when the minimums are met; otherwise each one that is not, with its figure. */
    static String shortfall(int providers, int buyers, long standardTokensMilli, Methodology m) {
        List<String> missing = new ArrayList<>();
        if (providers < m.minimumProviders()) {
            missing.add(providers + " providers (minimum " + m.minimumProviders() + ")");
        }
        if (buyers < m.minimumBuyers()) {
            missing.add(buyers + " buyers (minimum " + m.minimumBuyers() + ")");
        }
        if (BigInteger.valueOf(standardTokensMilli).compareTo(BigInteger.valueOf(m.minimumStandardTokens()).multiply(BigInteger.valueOf(1_000))) < 0) {
            missing.add(IndexValue.standardTokens(standardTokensMilli) + " standard tokens (minimum " + m.minimumStandardTokens() + ")");
        }
        return missing.isEmpty() ? null : String.join(", ", missing);
    }

    /** Total cost over total ST: the ST-weighted average of the sales' prices when no cap binds. */
    private static long plainAverage(int cells, long[] st, long[] cost) {
        long costSum = 0;
        long stSum = 0;
        for (int c = 0; c < cells; c++) {
            costSum = Math.addExact(costSum, cost[c]);
            stSum = Math.addExact(stSum, st[c]);
        }
        return divideHalfEven(costSum, PER_MILLION_ST_FROM_MILLI, stSum);
    }

    /** The same with each cell's weight and cost scaled by its provider's and buyer's factors (exact products). */
    private static long cappedAverage(ConcentrationCaps.Result caps, int cells, int[] provider, int[] buyer, long[] st,
                                      long[] cost) {
        BigDecimal costSum = BigDecimal.ZERO;
        BigDecimal weightSum = BigDecimal.ZERO;
        for (int c = 0; c < cells; c++) {
            BigDecimal f = caps.providerFactors()[provider[c]].multiply(caps.buyerFactors()[buyer[c]]);
            costSum = costSum.add(f.multiply(BigDecimal.valueOf(cost[c])));
            weightSum = weightSum.add(f.multiply(BigDecimal.valueOf(st[c])));
        }
        return costSum.multiply(BigDecimal.valueOf(PER_MILLION_ST_FROM_MILLI)).divide(weightSum, 0, RoundingMode.HALF_EVEN)
                .longValueExact();
    }

    /**
     * The smallest value whose cumulative weight reaches half the total (the lower weighted median): one of
     * the values, never an average of two, so it is exact.
     */
    static long weightedLowerMedian(long[] values, long[] weights, int n) {
        int[] order = Sort.ascending(n, (a, b) -> Long.compare(values[a], values[b]));
        long total = 0;
        for (int i = 0; i < n; i++) {
            total = Math.addExact(total, weights[i]);
        }
        long cumulative = 0;
        for (int i : order) {
            cumulative += weights[i];
            if (cumulative >= total - cumulative) {
                return values[i];
            }
        }
        throw new IllegalStateException("no median of " + n + " values");
    }

    /** a x b / c rounded half-even, exact for any longs (c > 0). */
    static long divideHalfEven(long a, long b, long c) {
        long high = Math.multiplyHigh(a, b);
        long low = a * b;
        if ((high == 0 && low >= 0) || (high == -1 && low < 0)) {
            long product = low;
            long q = product / c;
            long r = product % c;
            long remainder = Math.abs(r);
            if (remainder > c - remainder || (remainder == c - remainder && (q & 1) != 0)) {
                q += Long.signum(product);
            }
            return q;
        }
        return new BigDecimal(BigInteger.valueOf(a).multiply(BigInteger.valueOf(b)))
                .divide(BigDecimal.valueOf(c), 0, RoundingMode.HALF_EVEN).longValueExact();
    }
}
