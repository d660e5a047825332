package dev.tokenmarket.forwards.book;

import exchange.core2.collections.objpool.ObjectsPool;
import exchange.core2.core.common.CoreSymbolSpecification;
import exchange.core2.core.common.L2MarketData;
import exchange.core2.core.common.MatcherEventType;
import exchange.core2.core.common.MatcherTradeEvent;
import exchange.core2.core.common.OrderAction;
import exchange.core2.core.common.OrderType;
import exchange.core2.core.common.SymbolType;
import exchange.core2.core.common.cmd.CommandResultCode;
import exchange.core2.core.common.cmd.OrderCommand;
import exchange.core2.core.common.cmd.OrderCommandType;
import exchange.core2.core.common.config.LoggingConfiguration;
import exchange.core2.core.orderbook.IOrderBook;
import exchange.core2.core.orderbook.OrderBookDirectImpl;
import exchange.core2.core.orderbook.OrderBookEventsHelper;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Matching alone, one thread: the same seeded flow through {@link FastOrderBook}, {@link SimpleOrderBook} and
 * exchange-core's {@code OrderBookDirectImpl} (its fastest book, driven with its own command objects as its own
 * performance test does), in the same run, rounds interleaved so that all three see the same machine.
 *
 * <p>The flow: a book of {@code --resting} orders spread over 1,000 price levels (most near the touch) is
 * built first, untimed; then {@code --ops} operations: market makers place resting limit orders and cancel,
 * reduce and move them, and takers send crossing IOC orders that sweep one or more levels. Makers never cross
 * and takers never rest, so no one meets their own order: exchange-core has no self-trade prevention, and the
 * three books must end with the same trades and the same book, which the run checks.
 *
 * <p>Each round times each book twice over the whole flow: once without clocks for operations per second (by
 * the wall clock, and per second of the thread's CPU time, which a shared machine's other work does not
 * inflate), once reading the clock around every operation for the latency percentiles. The first {@code --warmup-rounds}
 * rounds are not reported; the median of the others is. {@code --differential-seeds N} then runs the
 * differential test's stream for N more seeds of {@code --differential-commands} commands each.
 *
 * <pre>
 * flock /tmp/tokenmarket-bench.lock load-tests/order-book-benchmark.sh   # --ops 1000000 --rounds 7
 * </pre>
 */
public final class OrderBookBenchmark {

    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();
    private static final byte MAKER = 0, TAKER = 1, CANCEL = 2, REDUCE = 3, MOVE = 4;
    private static final long BASE_PRICE = 1_000_000;
    private static final int LEVELS = 1_000;

    /** One flow as primitive arrays: building a command object per operation is left to the books that need one. */
    static final class Flow {
        final int prefill;
        final int size;
        final byte[] op;
        final byte[] side;
        final long[] id, owner, price, quantity, reduceBy;

        Flow(int prefill, int size) {
            this.prefill = prefill;
            this.size = size;
            op = new byte[size];
            side = new byte[size];
            id = new long[size];
            owner = new long[size];
            price = new long[size];
            quantity = new long[size];
            reduceBy = new long[size];
        }
    }

    /** Counts what a book reported, so that the three books can be checked against each other. */
    static final class Tally implements BookEvents {
        long trades, tradedQuantity, tradedNotional;

        @Override
        public void rejected(long orderId, long owner, Rejection reason) {
        }

        @Override
        public void rested(long orderId, long owner, Side side, long priceNanoUsd, long openQuantity) {
        }

        @Override
        public void traded(long takerOrderId, long takerOwner, long makerOrderId, long makerOwner, Side takerSide,
                           long priceNanoUsd, long quantity) {
            trades++;
            tradedQuantity += quantity;
            tradedNotional += priceNanoUsd * quantity;
        }

        @Override
        public void cancelled(long orderId, long owner, long openQuantity, CancelReason reason) {
        }

        @Override
        public void amended(long orderId, long owner, long priceNanoUsd, long openQuantity, boolean priorityKept) {
        }

        String summary(long restingOrders, long restingQuantity) {
            return "trades=" + trades + " traded=" + tradedQuantity + " notional=" + tradedNotional + " resting orders="
                    + restingOrders + " resting quantity=" + restingQuantity;
        }
    }

    /** One book under the benchmark: {@code start} gives it a fresh book, {@code run} applies operation {@code i} of the flow. */
    interface Runner {
        String name();

        void start();

        void run(Flow flow, int i);

        String summary();
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> options = options(args);
        int ops = Integer.parseInt(options.getOrDefault("ops", "1000000"));
        int resting = Integer.parseInt(options.getOrDefault("resting", "10000"));
        int rounds = Integer.parseInt(options.getOrDefault("rounds", "7"));
        int warmupRounds = Integer.parseInt(options.getOrDefault("warmup-rounds", "2"));
        long seed = Long.parseLong(options.getOrDefault("seed", "27"));
        int differentialSeeds = Integer.parseInt(options.getOrDefault("differential-seeds", "5"));
        int differentialCommands = Integer.parseInt(options.getOrDefault("differential-commands", "5000000"));

        System.out.printf(Locale.ROOT, "processor: %s x %d, JDK %s, load average at start: %s%n", processor(),
                Runtime.getRuntime().availableProcessors(), Runtime.version(), loadAverage());
        Flow flow = generate(seed, resting, ops);
        System.out.printf(Locale.ROOT, "flow: seed %d, %,d resting orders over %,d price levels built first, then %,d operations "
                + "(%s)%n", seed, resting, LEVELS, ops, mix(flow));

        List<Runner> runners = List.of(new FastRunner(), new SimpleRunner(), new ExchangeCoreRunner());
        Map<String, List<double[]>> results = new java.util.LinkedHashMap<>();
        long[] latencies = new long[flow.size - flow.prefill];
        for (int round = 0; round < rounds; round++) {
            for (Runner runner : runners) {
                runner.start();
                prefill(runner, flow);
                long cpu0 = THREADS.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                for (int i = flow.prefill; i < flow.size; i++) {
                    runner.run(flow, i);
                }
                long elapsed = System.nanoTime() - t0;
                long cpu = THREADS.getCurrentThreadCpuTime() - cpu0;
                String summary = runner.summary();

                runner.start();
                prefill(runner, flow);
                for (int i = flow.prefill; i < flow.size; i++) {
                    long s = System.nanoTime();
                    runner.run(flow, i);
                    latencies[i - flow.prefill] = System.nanoTime() - s;
                }
                Arrays.sort(latencies);
                double opsPerSecond = (flow.size - flow.prefill) * 1e9 / elapsed;
                double[] figures = {opsPerSecond, percentile(latencies, 0.50), percentile(latencies, 0.99),
                        percentile(latencies, 0.999), latencies[latencies.length - 1] / 1000.0,
                        (flow.size - flow.prefill) * 1e9 / cpu};
                System.out.printf(Locale.ROOT, "round %d %-15s %,11.0f ops/s (%,11.0f per CPU s)  p50 %6.3f us  p99 %6.3f us  p99.9 %7.3f us  max %9.1f us%s%n",
                        round + 1, runner.name(), figures[0], figures[5], figures[1], figures[2], figures[3], figures[4],
                        round < warmupRounds ? "  (warm-up)" : "");
                if (round == 0) {
                    System.out.println("    " + summary);
                }
                if (round >= warmupRounds) {
                    results.computeIfAbsent(runner.name(), k -> new ArrayList<>()).add(figures);
                }
            }
        }
        checkAgreement(runners, flow);

        System.out.println();
        System.out.println("| book | ops/s | ops per CPU s | p50 us | p99 us | p99.9 us |");
        System.out.println("|---|---|---|---|---|---|");
        Map<String, double[]> medians = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            double[] m = new double[6];
            for (int k = 0; k < 6; k++) {
                final int column = k;
                double[] values = e.getValue().stream().mapToDouble(f -> f[column]).sorted().toArray();
                m[k] = values[values.length / 2];
            }
            medians.put(e.getKey(), m);
            System.out.printf(Locale.ROOT, "| %s | %,.0f | %,.0f | %.3f | %.3f | %.3f |%n", e.getKey(), m[0], m[5], m[1], m[2], m[3]);
        }
        double[] fast = medians.get("FastOrderBook");
        double[] xc = medians.get("exchange-core");
        double[] simple = medians.get("SimpleOrderBook");
        System.out.printf(Locale.ROOT, "FastOrderBook / exchange-core: %.2fx ops/s (%.2fx per CPU s), p99 %.2fx lower; "
                + "FastOrderBook / SimpleOrderBook: %.2fx ops/s (%.2fx per CPU s)%n",
                fast[0] / xc[0], fast[5] / xc[5], xc[2] / fast[2], fast[0] / simple[0], fast[5] / simple[5]);
        System.out.printf(Locale.ROOT, "load average at end of matching: %s%n", loadAverage());

        if (differentialSeeds > 0) {
            long t0 = System.nanoTime();
            for (long s = 101; s < 101 + differentialSeeds; s++) {
                OrderBookDifferentialTest.compare(s, differentialCommands, 50_000);
            }
            System.out.printf(Locale.ROOT, "differential: %d seeds (101..%d) x %,d commands agree, event by event and in state, in %.1f s%n",
                    differentialSeeds, 100 + differentialSeeds, differentialCommands, (System.nanoTime() - t0) / 1e9);
        }
    }

    private static void prefill(Runner runner, Flow flow) {
        for (int i = 0; i < flow.prefill; i++) {
            runner.run(flow, i);
        }
    }

    /** Runs the flow once more through each book and checks that they all end with the same trades and book. */
    private static void checkAgreement(List<Runner> runners, Flow flow) {
        String first = null;
        for (Runner runner : runners) {
            runner.start();
            for (int i = 0; i < flow.size; i++) {
                runner.run(flow, i);
            }
            String summary = runner.summary();
            if (first == null) {
                first = summary;
            } else if (!first.equals(summary)) {
                throw new IllegalStateException("the books disagree on the flow: " + runners.getFirst().name() + " " + first
                        + " but " + runner.name() + " " + summary);
            }
        }
        System.out.println("all three books end the flow alike: " + first);
    }

    private static double percentile(long[] sorted, double q) {
        return sorted[(int) Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] / 1000.0;
    }

    // ---------------------------------------------------------------- the flow

    /**
     * Generates the flow, choosing each operation from the book as it stands (a fast book is the model): cancels,
     * reductions and moves name resting orders, makers price behind the opposite touch, takers through it.
     */
    static Flow generate(long seed, int resting, int ops) {
        SplittableRandom random = new SplittableRandom(seed);
        Flow flow = new Flow(resting, resting + ops);
        FastOrderBook model = new FastOrderBook(resting * 2);
        Live live = new Live(resting * 2);
        long middle = BASE_PRICE + LEVELS / 2;
        long nextId = 1;
        for (int i = 0; i < flow.size; i++) {
            if (i % 1_000 == 0) {
                middle = Math.clamp(middle + random.nextInt(-3, 4), BASE_PRICE + LEVELS / 4, BASE_PRICE + LEVELS * 3 / 4);
            }
            byte op;
            if (i < resting) {
                op = MAKER;
            } else {
                int r = random.nextInt(100);
                boolean full = live.size > resting;
                op = r < 12 ? TAKER : r < (full ? 45 : 60) ? MAKER : r < 90 ? CANCEL : r < 95 ? REDUCE : MOVE;
            }
            if (op != MAKER && op != TAKER && live.size == 0) {
                op = MAKER;
            }
            long bestBid = best(model, Side.BUY), bestAsk = best(model, Side.SELL);
            if (op == TAKER && (bestBid == 0 || bestAsk == 0)) {
                op = MAKER;
            }
            flow.op[i] = op;
            switch (op) {
                case MAKER -> {
                    Side side = random.nextBoolean() ? Side.BUY : Side.SELL;
                    flow.id[i] = nextId++;
                    flow.owner[i] = 1 + random.nextInt(1_000);
                    flow.side[i] = (byte) side.ordinal();
                    flow.price[i] = makerPrice(random, side, middle, bestBid, bestAsk);
                    flow.quantity[i] = 1 + random.nextInt(100);
                }
                case TAKER -> {
                    Side side = random.nextBoolean() ? Side.BUY : Side.SELL;
                    flow.id[i] = nextId++;
                    flow.owner[i] = 1_001 + random.nextInt(100);
                    flow.side[i] = (byte) side.ordinal();
                    flow.price[i] = side == Side.BUY ? bestAsk + random.nextInt(4) : bestBid - random.nextInt(4);
                    flow.quantity[i] = 1 + random.nextInt(150);
                }
                default -> {
                    long id = live.ids[random.nextInt(live.size)];
                    OrderBook.RestingOrder o = model.order(id);
                    flow.id[i] = id;
                    flow.owner[i] = o.owner();
                    flow.side[i] = (byte) o.side().ordinal();
                    flow.price[i] = o.priceNanoUsd();
                    flow.quantity[i] = o.openQuantity();
                    if (op == REDUCE && o.openQuantity() > 1) {
                        flow.quantity[i] = 1 + random.nextLong(o.openQuantity() - 1);
                        flow.reduceBy[i] = o.openQuantity() - flow.quantity[i];
                    } else if (op == REDUCE || op == MOVE) {
                        long price = makerPrice(random, o.side(), middle, bestBid, bestAsk);
                        flow.op[i] = price == o.priceNanoUsd() ? CANCEL : MOVE;
                        flow.price[i] = price;
                    }
                }
            }
            live.apply(model, flow, i);
        }
        return flow;
    }

    private static long best(OrderBook book, Side side) {
        List<OrderBook.Level> top = book.depth(side, 1);
        return top.isEmpty() ? 0 : top.getFirst().priceNanoUsd();
    }

    /** A resting price on {@code side}: most near the touch, some deep, never crossing, within the 1,000 levels. */
    private static long makerPrice(SplittableRandom random, Side side, long middle, long bestBid, long bestAsk) {
        int depth = (int) Math.min(LEVELS / 2 - 2, -Math.log(1 - random.nextDouble()) * 40);
        if (side == Side.BUY) {
            long price = middle - 1 - depth;
            return Math.max(BASE_PRICE, bestAsk == 0 ? price : Math.min(price, bestAsk - 1));
        }
        long price = middle + 1 + depth;
        return Math.min(BASE_PRICE + LEVELS - 1, bestBid == 0 ? price : Math.max(price, bestBid + 1));
    }

    /** The model's resting order ids, to pick cancels, reductions and moves from. */
    private static final class Live implements BookEvents {
        long[] ids;
        int size;
        private final LongIntIndex position;
        private final long[] makers = new long[1_024];
        private int makerCount;

        Live(int capacity) {
            ids = new long[capacity];
            position = new LongIntIndex(capacity);
        }

        void apply(FastOrderBook model, Flow flow, int i) {
            makerCount = 0;
            switch (flow.op[i]) {
                case MAKER, TAKER -> model.place(flow.id[i], flow.owner[i], Side.values()[flow.side[i]], flow.price[i],
                        flow.quantity[i], flow.op[i] == MAKER ? TimeInForce.GTC : TimeInForce.IOC, 0, false, false,
                        SelfTradePrevention.CANCEL_INCOMING, 0, this);
                case CANCEL -> model.cancel(flow.id[i], flow.owner[i], CancelReason.USER, this);
                default -> model.amend(flow.id[i], flow.owner[i], flow.price[i], flow.quantity[i], this);
            }
            for (int k = 0; k < makerCount; k++) {
                if (model.order(makers[k]) == null) {
                    remove(makers[k]);
                }
            }
        }

        private void remove(long id) {
            int at = position.get(id);
            if (at == 0) {
                return;
            }
            long last = ids[--size];
            ids[at - 1] = last;
            position.put(last, at);
            position.remove(id);
        }

        @Override
        public void rejected(long orderId, long owner, Rejection reason) {
            throw new IllegalStateException("the flow's command was refused: " + orderId + " " + reason);
        }

        @Override
        public void rested(long orderId, long owner, Side side, long priceNanoUsd, long openQuantity) {
            if (position.get(orderId) == 0) {
                if (size == ids.length) {
                    ids = Arrays.copyOf(ids, size * 2);
                }
                ids[size++] = orderId;
                position.put(orderId, size);
            }
        }

        @Override
        public void traded(long takerOrderId, long takerOwner, long makerOrderId, long makerOwner, Side takerSide,
                           long priceNanoUsd, long quantity) {
            makers[makerCount++] = makerOrderId;
        }

        @Override
        public void cancelled(long orderId, long owner, long openQuantity, CancelReason reason) {
            if (reason == CancelReason.SELF_TRADE) {
                throw new IllegalStateException("the flow must not meet its own orders: " + orderId);
            }
            remove(orderId);
        }

        @Override
        public void amended(long orderId, long owner, long priceNanoUsd, long openQuantity, boolean priorityKept) {
        }
    }

    private static String mix(Flow flow) {
        int[] counts = new int[5];
        for (int i = flow.prefill; i < flow.size; i++) {
            counts[flow.op[i]]++;
        }
        double n = flow.size - flow.prefill;
        return String.format(Locale.ROOT, "resting places %.0f%%, crossing IOC %.0f%%, cancels %.0f%%, reductions %.0f%%, moves %.0f%%",
                100 * counts[MAKER] / n, 100 * counts[TAKER] / n, 100 * counts[CANCEL] / n, 100 * counts[REDUCE] / n,
                100 * counts[MOVE] / n);
    }

    // ---------------------------------------------------------------- the books

    private static final class FastRunner implements Runner {
        private FastOrderBook book;
        private Tally tally;

        public String name() {
            return "FastOrderBook";
        }

        public void start() {
            book = new FastOrderBook(16_384);
            tally = new Tally();
        }

        public void run(Flow flow, int i) {
            switch (flow.op[i]) {
                case MAKER -> book.place(flow.id[i], flow.owner[i], flow.side[i] == 0 ? Side.BUY : Side.SELL, flow.price[i],
                        flow.quantity[i], TimeInForce.GTC, 0, false, false, SelfTradePrevention.CANCEL_INCOMING, 0, tally);
                case TAKER -> book.place(flow.id[i], flow.owner[i], flow.side[i] == 0 ? Side.BUY : Side.SELL, flow.price[i],
                        flow.quantity[i], TimeInForce.IOC, 0, false, false, SelfTradePrevention.CANCEL_INCOMING, 0, tally);
                case CANCEL -> book.cancel(flow.id[i], flow.owner[i], BookEvents.CancelReason.USER, tally);
                default -> book.amend(flow.id[i], flow.owner[i], flow.price[i], flow.quantity[i], tally);
            }
        }

        public String summary() {
            return summarize(book, tally);
        }
    }

    private static final class SimpleRunner implements Runner {
        private SimpleOrderBook book;
        private Tally tally;

        public String name() {
            return "SimpleOrderBook";
        }

        public void start() {
            book = new SimpleOrderBook();
            tally = new Tally();
        }

        public void run(Flow flow, int i) {
            Side side = flow.side[i] == 0 ? Side.BUY : Side.SELL;
            switch (flow.op[i]) {
                case MAKER, TAKER -> book.place(new BookCommand.Place(flow.id[i], flow.owner[i], side, flow.price[i], flow.quantity[i],
                        flow.op[i] == MAKER ? TimeInForce.GTC : TimeInForce.IOC, 0, false, false, SelfTradePrevention.CANCEL_INCOMING, 0), tally);
                case CANCEL -> book.cancel(flow.id[i], flow.owner[i], BookEvents.CancelReason.USER, tally);
                default -> book.amend(new BookCommand.Amend(flow.id[i], flow.owner[i], flow.price[i], flow.quantity[i], 0), tally);
            }
        }

        public String summary() {
            return summarize(book, tally);
        }
    }

    private static String summarize(OrderBook book, Tally tally) {
        long orders = 0, quantity = 0;
        for (Side side : Side.values()) {
            for (OrderBook.Level level : book.depth(side, Integer.MAX_VALUE)) {
                orders += level.orders();
                quantity += level.quantity();
            }
        }
        return tally.summary(orders, quantity);
    }

    /**
     * exchange-core 0.5.3's {@code OrderBookDirectImpl} with its non-pooled event helper, as its own
     * {@code ITOrderBookDirectImpl} runs it; one command object is filled per operation, as its ring buffer's
     * slots are. A reduction is its REDUCE (by the difference), a move its MOVE, a crossing order its IOC.
     */
    private static final class ExchangeCoreRunner implements Runner {
        private static final CoreSymbolSpecification SPEC = CoreSymbolSpecification.builder().symbolId(1)
                .type(SymbolType.FUTURES_CONTRACT).baseCurrency(1).quoteCurrency(2).baseScaleK(1).quoteScaleK(1)
                .marginBuy(1).marginSell(1).takerFee(0).makerFee(0).build();
        private final OrderCommand cmd = new OrderCommand();
        private IOrderBook book;
        private Tally tally;

        public String name() {
            return "exchange-core";
        }

        public void start() {
            book = new OrderBookDirectImpl(SPEC, ObjectsPool.createDefaultTestPool(), OrderBookEventsHelper.NON_POOLED_EVENTS_HELPER,
                    LoggingConfiguration.DEFAULT);
            tally = new Tally();
        }

        public void run(Flow flow, int i) {
            OrderCommand c = cmd;
            byte op = flow.op[i];
            c.orderId = flow.id[i];
            c.uid = flow.owner[i];
            c.matcherEvent = null;
            c.resultCode = CommandResultCode.VALID_FOR_MATCHING_ENGINE;
            switch (op) {
                case MAKER, TAKER -> {
                    c.command = OrderCommandType.PLACE_ORDER;
                    c.orderType = op == MAKER ? OrderType.GTC : OrderType.IOC;
                    c.action = flow.side[i] == 0 ? OrderAction.BID : OrderAction.ASK;
                    c.price = flow.price[i];
                    c.reserveBidPrice = flow.price[i];
                    c.size = flow.quantity[i];
                }
                case CANCEL -> c.command = OrderCommandType.CANCEL_ORDER;
                case REDUCE -> {
                    c.command = OrderCommandType.REDUCE_ORDER;
                    c.size = flow.reduceBy[i];
                }
                default -> {
                    c.command = OrderCommandType.MOVE_ORDER;
                    c.price = flow.price[i];
                }
            }
            CommandResultCode result = IOrderBook.processCommand(book, c);
            if (result != CommandResultCode.SUCCESS) {
                throw new IllegalStateException("exchange-core refused operation " + i + ": " + result);
            }
            for (MatcherTradeEvent e = c.matcherEvent; e != null; e = e.nextEvent) {
                if (e.eventType == MatcherEventType.TRADE) {
                    tally.traded(c.orderId, c.uid, e.matchedOrderId, e.matchedOrderUid, null, e.price, e.size);
                }
            }
        }

        public String summary() {
            L2MarketData l2 = book.getL2MarketDataSnapshot(Integer.MAX_VALUE);
            long orders = 0, quantity = 0;
            for (int k = 0; k < l2.askSize; k++) {
                orders += l2.askOrders[k];
                quantity += l2.askVolumes[k];
            }
            for (int k = 0; k < l2.bidSize; k++) {
                orders += l2.bidOrders[k];
                quantity += l2.bidVolumes[k];
            }
            return tally.summary(orders, quantity);
        }
    }

    // ---------------------------------------------------------------- the machine

    private static String processor() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("unknown");
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (Exception e) {
            return "unknown";
        }
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> options = new java.util.HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("options are --name value pairs: " + args[i]);
            }
            options.put(args[i].substring(2), args[i + 1]);
        }
        return options;
    }
}
