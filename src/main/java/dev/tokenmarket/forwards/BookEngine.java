package dev.tokenmarket.forwards;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.forwards.book.BookCommand;
import dev.tokenmarket.forwards.book.JournalCodec;
import dev.tokenmarket.forwards.book.OrderBook;
import dev.tokenmarket.forwards.book.RecordedEvents;
import dev.tokenmarket.forwards.book.SelfTradePrevention;
import dev.tokenmarket.forwards.book.Side;
import dev.tokenmarket.forwards.book.TimeInForce;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The single writer of one instrument's book. Its thread takes the commands that queued while the previous
 * batch committed (up to the group commit size), applies them to the book in arrival order, and writes their
 * journal lines, the orders and the trades in one transaction; only after that commits are the callers
 * answered. A failed commit leaves the in-memory book ahead of the database, so the book is rebuilt from the
 * journal and the batch retried command by command. The lease is renewed from the same thread, and a write
 * with a stale fencing token (another process took the instrument) stops the engine for good.
 *
 * <p>Stages of one batch: (1) look client order ids up, (2) apply to the book, (3) journal and project in one
 * transaction, (4) answer.
 */
final class BookEngine {

    private static final Logger LOG = Logger.getLogger(BookEngine.class);
    private static final int ORDER_ID_SEQ_BITS = 40;
    private static final long POLL_MILLIS = 100;

    /** What callers ask of the engine; {@code answer} is null for the engine's own commands. */
    sealed interface Request {
        CompletableFuture<Object> answer();
    }

    record PlaceRequest(UUID orgId, long member, String clientOrderId, byte[] requestSha256, Side side, long priceNanoUsd,
                        long quantity, TimeInForce timeInForce, Instant expiresAt, boolean postOnly, boolean reduceOnly,
                        SelfTradePrevention selfTradePrevention, boolean mayOpenShort, ProviderCapacity.Limit capacity,
                        CompletableFuture<Object> answer)
            implements Request {
    }

    record CancelRequest(long member, long orderId, CompletableFuture<Object> answer) implements Request {
    }

    record AmendRequest(long member, long orderId, long priceNanoUsd, long quantity, CompletableFuture<Object> answer) implements Request {
    }

    record CancelAllRequest(long member, CompletableFuture<Object> answer) implements Request {
    }

    record ExpireRequest(long atMillis, CompletableFuture<Object> answer) implements Request {
    }

    record StopTradingRequest(CompletableFuture<Object> answer) implements Request {
    }

    /** Reads the book's money back from the ledger, between batches, on the engine's own thread. */
    record CheckRequest(CompletableFuture<Object> answer) implements Request {
    }

    /** An order as the engine tracks it while it is open, and in the batch that changes it. */
    private static final class OrderState {
        final long id;
        final long owner;
        final UUID orgId;
        String clientOrderId;
        byte[] requestSha256;
        final Side side;
        long price;
        long quantity;
        long open;
        long filled;
        final TimeInForce timeInForce;
        final long expiresAtMillis;
        final boolean postOnly;
        final boolean reduceOnly;
        final SelfTradePrevention stp;
        String status = "open";
        String reason;
        boolean isNew;
        /** Whether it counts towards its owner's open orders. */
        boolean isCounted;
        List<OrderView.FillView> fills;

        OrderState(long id, UUID orgId, BookCommand.Place p) {
            this.id = id;
            this.owner = p.owner();
            this.orgId = orgId;
            this.side = p.side();
            this.price = p.priceNanoUsd();
            this.quantity = p.quantity();
            this.open = p.quantity();
            this.timeInForce = p.timeInForce();
            this.expiresAtMillis = p.expiresAtMillis();
            this.postOnly = p.postOnly();
            this.reduceOnly = p.reduceOnly();
            this.stp = p.selfTradePrevention();
        }
    }

    private record TradeRow(long id, long takerOrderId, long makerOrderId, UUID buyer, UUID seller, Side takerSide,
                            long priceNanoUsd, long quantity, long buyerFeeNanoUsd, long sellerFeeNanoUsd) {
    }

    /** What one batch changes, written in its transaction. */
    private static final class Batch {
        final List<Long> seqs = new ArrayList<>();
        final List<String> lines = new ArrayList<>();
        final Map<Long, OrderState> touched = new LinkedHashMap<>();
        final List<TradeRow> trades = new ArrayList<>();
        final List<Runnable> answers = new ArrayList<>();
        long lastPriceNanoUsd;
    }

    private final Instrument instrument;
    private final AgroalDataSource dataSource;
    private final Members members;
    private final Leases leases;
    private final ObjectMapper json;
    private final ForwardsConfig config;
    private final String owner;
    private final BlockingQueue<Request> queue;
    private final Thread thread;
    private final Runnable onStop;
    private final java.util.function.Supplier<Clearing> newClearing;
    private Clearing clearing;

    private volatile boolean running = true;
    private long token;
    private long nextRenewAtMillis;
    private OrderBook book;
    private long lastSeq;
    private long tradeCount;
    private final Map<Long, OrderState> open = new HashMap<>();
    private final Map<Long, Integer> openByOwner = new HashMap<>();

    BookEngine(Instrument instrument, long token, String owner, AgroalDataSource dataSource, Members members, Leases leases,
               ObjectMapper json, ForwardsConfig config, java.util.function.Supplier<Clearing> newClearing, Runnable onStop) {
        this.newClearing = newClearing;
        this.instrument = instrument;
        this.token = token;
        this.owner = owner;
        this.dataSource = dataSource;
        this.members = members;
        this.leases = leases;
        this.json = json;
        this.config = config;
        this.onStop = onStop;
        this.queue = new ArrayBlockingQueue<>(config.queueLengthMax());
        rebuild();
        this.nextRenewAtMillis = System.currentTimeMillis() + config.leaseTtl().toMillis() / 3;
        this.thread = Thread.ofPlatform().name("forward-book-" + instrument.symbol()).daemon().start(this::run);
    }

    static long orderIdOf(long instrumentId, long seq) {
        return (instrumentId << ORDER_ID_SEQ_BITS) | seq;
    }

    static long instrumentIdOf(long orderId) {
        return orderId >>> ORDER_ID_SEQ_BITS;
    }

    Instrument instrument() {
        return instrument;
    }

    boolean running() {
        return running;
    }

    /** Queues a request; its answer completes once the batch holding it committed. */
    CompletableFuture<Object> submit(Supplier<Request> make) {
        Request request = make.get();
        if (!running) {
            request.answer().completeExceptionally(ownedElsewhere());
        } else if (!queue.offer(request)) {
            request.answer().completeExceptionally(ApiException.rateLimited("The book of " + instrument.symbol()
                    + " has " + config.queueLengthMax() + " commands waiting; retry shortly.", 1));
        }
        return request.answer();
    }

    private ApiException ownedElsewhere() {
        return new ApiException(ErrorCode.INSTRUMENT_OWNED_ELSEWHERE, "The book of " + instrument.symbol()
                + " is not owned by this process (any more); retry, the next attempt finds its owner.");
    }

    /** Stops the engine; answers what is queued with a retry hint and gives the lease up when it was a clean stop. */
    void stop(boolean releaseLease) {
        running = false;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (releaseLease) {
            leases.release(instrument.id(), token);
        }
    }

    private void run() {
        List<Request> batch = new ArrayList<>();
        try {
            while (running) {
                Request first = queue.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (!maintain()) {
                    if (first != null) {
                        first.answer().completeExceptionally(ownedElsewhere());
                    }
                    break;
                }
                if (first == null) {
                    continue;
                }
                batch.clear();
                batch.add(first);
                queue.drainTo(batch, config.groupCommitMax() - 1);
                process(batch);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.error("the book of " + instrument.symbol() + " stopped", e);
        } finally {
            running = false;
            for (Request left; (left = queue.poll()) != null; ) {
                left.answer().completeExceptionally(ownedElsewhere());
            }
            onStop.run();
        }
    }

    /** Renews the lease when due and expires due GTD orders; false when the lease is lost. */
    private boolean maintain() {
        long now = System.currentTimeMillis();
        if (now >= nextRenewAtMillis) {
            if (!leases.renew(instrument.id(), token, config.leaseTtl())) {
                LOG.warnf("lost the lease of %s; another process owns its book now", instrument.symbol());
                return false;
            }
            nextRenewAtMillis = now + config.leaseTtl().toMillis() / 3;
        }
        for (OrderState o : open.values()) {
            if (o.timeInForce == TimeInForce.GTD && o.expiresAtMillis <= now) {
                process(List.of(new ExpireRequest(now, null)));
                break;
            }
        }
        return running;
    }

    private void process(List<Request> requests) {
        Batch batch = new Batch();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                clearing.begin(c, orgsPlacingOrAmending(requests));
                Map<String, String[]> known = knownClientOrderIds(c, requests);
                Map<String, OrderState> inBatch = new HashMap<>();
                for (Request r : requests) {
                    apply(r, batch, known, inBatch);
                }
                write(c, batch);
                c.commit();
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            } finally {
                clearing.end();
                c.setAutoCommit(true);
            }
        } catch (SQLException | RuntimeException e) {
            if (isStaleFencing(e)) {
                LOG.warnf("a journal write for %s carried a stale fencing token; this process no longer owns its book", instrument.symbol());
                running = false;
                for (Request r : requests) {
                    if (r.answer() != null) {
                        r.answer().completeExceptionally(ownedElsewhere());
                    }
                }
                return;
            }
            rebuild();
            if (requests.size() > 1) {
                for (Request r : requests) {
                    process(List.of(r));
                }
            } else {
                LOG.error("a command on " + instrument.symbol() + " failed and changed nothing", e);
                if (requests.getFirst().answer() != null) {
                    requests.getFirst().answer().completeExceptionally(e instanceof ApiException api ? api
                            : new IllegalStateException("the command could not be journaled", e));
                }
            }
            return;
        }
        int newOrders = 0;
        for (OrderState o : batch.touched.values()) {
            if (o.isNew) {
                newOrders++;
            }
            o.isNew = false;
        }
        ForwardMetrics.committed(newOrders, batch.trades.size(), batch.trades.stream().mapToLong(TradeRow::quantity).sum());
        for (Runnable answer : batch.answers) {
            answer.run();
        }
        open.values().removeIf(o -> !"open".equals(o.status));
    }

    private static boolean isStaleFencing(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && "40001".equals(sql.getSQLState()) && String.valueOf(sql.getMessage()).contains("fencing")) {
                return true;
            }
        }
        return false;
    }

    private static String clientKey(UUID org, String clientOrderId) {
        return org + "|" + clientOrderId;
    }

    /** The organizations whose orders in this batch may need more held: their wallets are read up front. */
    private java.util.Set<UUID> orgsPlacingOrAmending(List<Request> requests) {
        java.util.Set<UUID> orgs = new java.util.LinkedHashSet<>();
        for (Request r : requests) {
            if (r instanceof PlaceRequest p) {
                orgs.add(p.orgId());
            } else if (r instanceof AmendRequest a && open.containsKey(a.orderId())) {
                orgs.add(open.get(a.orderId()).orgId);
            }
        }
        return orgs;
    }

    /** Stage 1: the client order ids of this batch's placements already used (by any instrument), with their digest and first answer. */
    private Map<String, String[]> knownClientOrderIds(Connection c, List<Request> requests) throws SQLException {
        List<UUID> orgs = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        for (Request r : requests) {
            if (r instanceof PlaceRequest p) {
                orgs.add(p.orgId());
                ids.add(p.clientOrderId());
            }
        }
        Map<String, String[]> known = new HashMap<>();
        if (orgs.isEmpty()) {
            return known;
        }
        try (PreparedStatement ps = c.prepareStatement("""
                     select o.org_id, o.client_order_id, encode(o.request_sha256, 'hex'), o.first_response
                     from forward_orders o join unnest(?::uuid[], ?::text[]) k(org_id, client_order_id)
                       on o.org_id = k.org_id and o.client_order_id = k.client_order_id""")) {
            ps.setArray(1, c.createArrayOf("uuid", orgs.toArray()));
            ps.setArray(2, c.createArrayOf("text", ids.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    known.put(clientKey(rs.getObject(1, UUID.class), rs.getString(2)), new String[]{rs.getString(3), rs.getString(4)});
                }
            }
        }
        return known;
    }

    /** Stage 2: one request against the book; its answer is queued for after the commit. */
    private void apply(Request r, Batch batch, Map<String, String[]> known, Map<String, OrderState> inBatch) throws SQLException {
        long now = System.currentTimeMillis();
        switch (r) {
            case PlaceRequest p -> {
                String key = clientKey(p.orgId(), p.clientOrderId());
                String[] earlier = known.get(key);
                OrderState sameBatch = inBatch.get(key);
                String digest = java.util.HexFormat.of().formatHex(p.requestSha256());
                if (earlier != null || sameBatch != null) {
                    boolean same = earlier != null ? earlier[0].equals(digest) : Arrays.equals(sameBatch.requestSha256, p.requestSha256());
                    if (!same) {
                        batch.answers.add(() -> p.answer().completeExceptionally(new ApiException(ErrorCode.IDEMPOTENCY_CONFLICT,
                                "client_order_id " + p.clientOrderId() + " was already used for a different order; use a new one.",
                                "client_order_id")));
                    } else if (earlier != null) {
                        OrderView first = readView(earlier[1]);
                        batch.answers.add(() -> p.answer().complete(first));
                    } else {
                        OrderView first = firstViews.get(sameBatch.id);
                        batch.answers.add(() -> p.answer().complete(first));
                    }
                    return;
                }
                if (openByOwner.getOrDefault(p.member(), 0) >= config.openOrdersPerInstrumentMax()) {
                    batch.answers.add(() -> p.answer().completeExceptionally(new ApiException(ErrorCode.OPEN_ORDERS_LIMIT,
                            "The organization has " + config.openOrdersPerInstrumentMax() + " open orders on " + instrument.symbol()
                                    + ", the most allowed; cancel some first.")));
                    return;
                }
                if (p.side() == Side.SELL && !p.mayOpenShort() && p.quantity() > sellable(p.member())) {
                    batch.answers.add(() -> p.answer().completeExceptionally(new ApiException(ErrorCode.SHORTS_NOT_ALLOWED,
                            "This organization may not sell " + instrument.symbol() + " short: it may sell at most " + sellable(p.member())
                                    + " contracts (its long less its resting sells).", "quantity")));
                    return;
                }
                if (p.side() == Side.SELL && p.capacity() != null && exceedsCapacity(p.member(), p.quantity(), p.capacity())) {
                    long position = book.position(p.member());
                    long resting = restingSells(p.member());
                    batch.answers.add(() -> p.answer().completeExceptionally(new ApiException(ErrorCode.INSUFFICIENT_CAPACITY,
                            "The organization's active endpoints for this product serve " + p.capacity().endpointTokensPerHour()
                                    + " tokens an hour (at " + config.capacityFractionPercent() + "% of their tokens per minute); with its"
                                    + " commitments on overlapping windows they back a short of at most " + p.capacity().contractsMax()
                                    + " contracts on " + instrument.symbol() + ", and this sell would make it "
                                    + Math.max(0, resting + p.quantity() - position) + ". Add endpoint capacity or sell less.", "quantity")));
                    return;
                }
                long seq = lastSeq + 1;
                long orderId = orderIdOf(instrument.id(), seq);
                try {
                    clearing.placeOrder(orderId, p.orgId(), p.side(), p.priceNanoUsd(), reservePrice(p.side(), p.priceNanoUsd(),
                            p.postOnly()), p.quantity());
                } catch (ApiException refused) {
                    // The wallet does not cover what the order needs held: refused before the book saw it.
                    batch.answers.add(() -> p.answer().completeExceptionally(refused));
                    return;
                }
                lastSeq = seq;
                BookCommand.Place command = new BookCommand.Place(orderId, p.member(), p.side(), p.priceNanoUsd(), p.quantity(),
                        p.timeInForce(), p.expiresAt() == null ? 0 : p.expiresAt().toEpochMilli(), p.postOnly(), p.reduceOnly(),
                        p.selfTradePrevention(), now);
                OrderState state = new OrderState(orderId, p.orgId(), command);
                state.clientOrderId = p.clientOrderId();
                state.requestSha256 = p.requestSha256();
                state.isNew = true;
                state.fills = new ArrayList<>();
                open.put(orderId, state);
                inBatch.put(key, state);
                journal(batch, seq, command);
                RecordedEvents out = new RecordedEvents();
                book.apply(command, out);
                absorb(out.events(), batch, state, null);
                OrderView view = view(state);
                firstViews.put(orderId, view);
                batch.answers.add(() -> p.answer().complete(view));
            }
            case CancelRequest c -> {
                OrderState state = ownOpenOrder(c.orderId(), c.member(), batch, c.answer());
                if (state != null) {
                    applyToOrder(new BookCommand.Cancel(c.orderId(), c.member()), state, batch, c.answer(), null);
                }
            }
            case AmendRequest a -> {
                OrderState state = ownOpenOrder(a.orderId(), a.member(), batch, a.answer());
                if (state != null) {
                    // A price or quantity left out (negative) stays as it is.
                    long price = a.priceNanoUsd() < 0 ? state.price : a.priceNanoUsd();
                    long quantity = a.quantity() < 0 ? state.open : a.quantity();
                    UUID prepared;
                    try {
                        prepared = clearing.prepareAmend(a.orderId(), lastSeq + 1, price, quantity);
                    } catch (ApiException refused) {
                        batch.answers.add(() -> a.answer().completeExceptionally(refused));
                        return;
                    }
                    applyToOrder(new BookCommand.Amend(a.orderId(), a.member(), price, quantity, now), state, batch, a.answer(), prepared);
                }
            }
            case CancelAllRequest c -> {
                int before = openByOwner.getOrDefault(c.member(), 0);
                BookCommand command = new BookCommand.CancelAll(c.member());
                journal(batch, ++lastSeq, command);
                RecordedEvents out = new RecordedEvents();
                book.apply(command, out);
                absorb(out.events(), batch, null, null);
                batch.answers.add(() -> c.answer().complete(before));
            }
            case ExpireRequest e -> applyOwn(new BookCommand.Expire(e.atMillis()), batch, e.answer());
            case CheckRequest check -> {
                Clearing.Check result = clearing.check();
                batch.answers.add(() -> check.answer().complete(result));
            }
            case StopTradingRequest s -> {
                applyOwn(new BookCommand.StopTrading(), batch, s.answer());
                running = false;
            }
        }
    }

    /**
     * The price a new order's hold is computed at. A sell trades at the bids' prices, up to the best one, so
     * until it rests its fee and bond are held on that (a buy never pays more than its limit; a post-only
     * order never trades on arrival).
     */
    private long reservePrice(Side side, long limit, boolean postOnly) {
        if (side == Side.BUY || postOnly) {
            return limit;
        }
        List<OrderBook.Level> best = book.depth(Side.BUY, 1);
        return best.isEmpty() ? limit : Math.max(limit, best.getFirst().priceNanoUsd());
    }

    /** What the owner may sell without going short: its long less its resting sells. */
    private long sellable(long owner) {
        return Math.max(0, book.position(owner) - restingSells(owner));
    }

    private long restingSells(long owner) {
        long resting = 0;
        for (OrderState o : open.values()) {
            if (o.owner == owner && o.side == Side.SELL && "open".equals(o.status)) {
                resting += o.open;
            }
        }
        return resting;
    }

    /**
     * Whether selling {@code quantity} more makes the owner's commitment here (its short if all its resting
     * sells filled) larger than its endpoints back; a sell that only closes its long never does.
     */
    private boolean exceedsCapacity(long owner, long quantity, ProviderCapacity.Limit limit) {
        long position = book.position(owner);
        long resting = restingSells(owner);
        long before = Math.max(0, resting - position);
        long after = Math.max(0, resting + quantity - position);
        return after > before && limit.tokensPerHour(after) > limit.tokensLeftPerHour();
    }

    /** The first answers of the placements in the current batch, for a retry that arrives in the same batch. */
    private final Map<Long, OrderView> firstViews = new HashMap<>();

    private void applyOwn(BookCommand command, Batch batch, CompletableFuture<Object> answer) throws SQLException {
        journal(batch, ++lastSeq, command);
        RecordedEvents out = new RecordedEvents();
        book.apply(command, out);
        absorb(out.events(), batch, null, null);
        if (answer != null) {
            batch.answers.add(() -> answer.complete(out.events().size()));
        }
    }

    private OrderState ownOpenOrder(long orderId, long member, Batch batch, CompletableFuture<Object> answer) {
        OrderState state = open.get(orderId);
        if (state == null || state.owner != member || !"open".equals(state.status)) {
            batch.answers.add(() -> answer.completeExceptionally(new ApiException(ErrorCode.ORDER_NOT_OPEN,
                    "Order " + orderId + " is not open on " + instrument.symbol() + " (filled, cancelled or not this organization's);"
                            + " GET /api/forwards/orders/" + orderId + " shows what became of it.")));
            return null;
        }
        return state;
    }

    private void applyToOrder(BookCommand command, OrderState state, Batch batch, CompletableFuture<Object> answer,
                              UUID preparedHold) throws SQLException {
        journal(batch, ++lastSeq, command);
        state.fills = new ArrayList<>();
        RecordedEvents out = new RecordedEvents();
        book.apply(command, out);
        if (!out.events().isEmpty() && out.events().getFirst() instanceof RecordedEvents.Rejected rejected) {
            clearing.amendRefused(state.id, preparedHold);
            ApiException refused = rejection(rejected.reason());
            batch.answers.add(() -> answer.completeExceptionally(refused));
            return;
        }
        absorb(out.events(), batch, state, preparedHold);
        OrderView view = view(state);
        batch.answers.add(() -> answer.complete(view));
    }

    static ApiException rejection(dev.tokenmarket.forwards.book.BookEvents.Rejection reason) {
        return switch (reason) {
            case WOULD_CROSS -> new ApiException(ErrorCode.WOULD_CROSS,
                    "A post-only order may not trade on arrival, and this price would cross the book; choose a price that rests.", "price");
            case REDUCE_ONLY_WOULD_INCREASE -> new ApiException(ErrorCode.REDUCE_ONLY_WOULD_INCREASE,
                    "A reduce-only order may only reduce the position, and this quantity (with the other reduce-only orders) exceeds it.", "quantity");
            case EXPIRED -> ApiException.invalid("expires_at", "The GTD order's expires_at has passed.");
            case UNKNOWN_ORDER, DUPLICATE_ORDER_ID -> new ApiException(ErrorCode.ORDER_NOT_OPEN, "The order is not open.");
        };
    }

    private void journal(Batch batch, long seq, BookCommand command) {
        batch.seqs.add(seq);
        batch.lines.add(JournalCodec.encode(command));
    }

    /** Brings the tracked orders up to date with the book's events; {@code batch} is null while replaying. */
    private void absorb(List<RecordedEvents.Event> events, Batch batch, OrderState subject, UUID preparedHold) throws SQLException {
        for (RecordedEvents.Event e : events) {
            switch (e) {
                case RecordedEvents.Rested r -> {
                    OrderState o = open.get(r.orderId());
                    o.open = r.openQuantity();
                    o.price = r.priceNanoUsd();
                    setStatus(o, "open", null, batch);
                    clearing.rested(o.id);
                }
                case RecordedEvents.Traded t -> {
                    OrderState taker = open.get(t.takerOrderId());
                    OrderState maker = open.get(t.makerOrderId());
                    long tradeId = orderIdOf(instrument.id(), ++tradeCount);
                    boolean takerBuys = t.takerSide() == Side.BUY;
                    long[] fees = clearing.traded(tradeId, takerBuys ? taker.id : maker.id, takerBuys ? maker.id : taker.id, takerBuys,
                            t.priceNanoUsd(), t.quantity());
                    for (OrderState o : List.of(taker, maker)) {
                        o.open -= t.quantity();
                        o.filled += t.quantity();
                        if (o.fills != null) {
                            o.fills.add(new OrderView.FillView(Long.toString(tradeId), Money.formatUsd(t.priceNanoUsd()), t.quantity(),
                                    o == taker ? "taker" : "maker"));
                        }
                        if (o.open == 0) {
                            setStatus(o, "filled", null, batch);
                            clearing.closed(o.id);
                        } else {
                            touch(o, batch);
                        }
                    }
                    if (batch != null) {
                        batch.trades.add(new TradeRow(tradeId, taker.id, maker.id, takerBuys ? taker.orgId : maker.orgId,
                                takerBuys ? maker.orgId : taker.orgId, t.takerSide(), t.priceNanoUsd(), t.quantity(), fees[0], fees[1]));
                        batch.lastPriceNanoUsd = t.priceNanoUsd();
                    }
                }
                case RecordedEvents.Cancelled c -> {
                    OrderState o = open.get(c.orderId());
                    o.open = 0;
                    setStatus(o, "cancelled", c.reason().name().toLowerCase(Locale.ROOT), batch);
                    clearing.closed(o.id);
                }
                case RecordedEvents.Amended a -> {
                    OrderState o = open.get(a.orderId());
                    o.price = a.priceNanoUsd();
                    o.open = a.openQuantity();
                    o.quantity = o.filled + a.openQuantity();
                    touch(o, batch);
                    if (o == subject) {
                        clearing.amended(o.id, a.priceNanoUsd(), a.openQuantity(), preparedHold);
                    } else {
                        clearing.reduced(o.id, a.openQuantity());
                    }
                }
                case RecordedEvents.Rejected r -> {
                    OrderState o = open.get(r.orderId());
                    if (o != null && o == subject && o.isNew) {
                        o.open = 0;
                        setStatus(o, "rejected", r.reason().name().toLowerCase(Locale.ROOT), batch);
                        clearing.closed(o.id);
                    }
                }
            }
        }
    }

    private void setStatus(OrderState o, String status, String reason, Batch batch) {
        boolean wasCounted = o.isCounted;
        boolean counted = "open".equals(status);
        if (wasCounted != counted) {
            openByOwner.merge(o.owner, counted ? 1 : -1, Integer::sum);
            o.isCounted = counted;
        }
        o.status = status;
        o.reason = reason;
        touch(o, batch);
    }

    private static void touch(OrderState o, Batch batch) {
        if (batch != null) {
            batch.touched.put(o.id, o);
        }
    }

    /** Stage 3: the batch's journal lines, its hold changes, orders and trades, all in one transaction. */
    private void write(Connection c, Batch batch) throws SQLException {
        if (batch.seqs.isEmpty() && batch.touched.isEmpty()) {
            clearing.flush();
            return;
        }
        writeJournal(c, batch);
        writeOrders(c, batch);
        writeTrades(c, batch);
        // Last: every book's fills lock the platform's clearing and fee accounts until the commit, so the
        // shorter that stretch, the less the books wait for each other.
        clearing.flush();
    }

    private void writeJournal(Connection c, Batch batch) throws SQLException {
        if (batch.seqs.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("""
                insert into forward_journal (instrument_id, seq, fencing_token, command)
                select ?, s, ?, l from unnest(?::bigint[], ?::text[]) as j(s, l)""")) {
            ps.setLong(1, instrument.id());
            ps.setLong(2, token);
            ps.setArray(3, c.createArrayOf("bigint", batch.seqs.toArray()));
            ps.setArray(4, c.createArrayOf("text", batch.lines.toArray()));
            ps.executeUpdate();
        }
    }

    private void writeOrders(Connection c, Batch batch) throws SQLException {
        try (PreparedStatement insert = c.prepareStatement("""
                insert into forward_orders (id, instrument_id, org_id, client_order_id, request_sha256, side, price_nano_usd,
                    quantity, open_quantity, filled_quantity, time_in_force, expires_at, post_only, reduce_only,
                    self_trade_prevention, status, reason, first_response)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""");
             PreparedStatement update = c.prepareStatement("""
                update forward_orders set price_nano_usd = ?, quantity = ?, open_quantity = ?, filled_quantity = ?, status = ?,
                    reason = ?, updated_at = now() where id = ?""")) {
            int inserts = 0;
            int updates = 0;
            for (OrderState o : batch.touched.values()) {
                if (o.isNew) {
                    insert.setLong(1, o.id);
                    insert.setLong(2, instrument.id());
                    insert.setObject(3, o.orgId);
                    insert.setString(4, o.clientOrderId);
                    insert.setBytes(5, o.requestSha256);
                    insert.setString(6, o.side.name().toLowerCase(Locale.ROOT));
                    insert.setLong(7, o.price);
                    insert.setLong(8, o.quantity);
                    insert.setLong(9, o.open);
                    insert.setLong(10, o.filled);
                    insert.setString(11, o.timeInForce.name().toLowerCase(Locale.ROOT));
                    insert.setTimestamp(12, o.timeInForce == TimeInForce.GTD ? new Timestamp(o.expiresAtMillis) : null);
                    insert.setBoolean(13, o.postOnly);
                    insert.setBoolean(14, o.reduceOnly);
                    insert.setString(15, o.stp.name().toLowerCase(Locale.ROOT));
                    insert.setString(16, o.status);
                    insert.setString(17, o.reason);
                    insert.setString(18, writeView(firstViews.getOrDefault(o.id, view(o))));
                    insert.addBatch();
                    inserts++;
                } else {
                    update.setLong(1, o.price);
                    update.setLong(2, o.quantity);
                    update.setLong(3, o.open);
                    update.setLong(4, o.filled);
                    update.setString(5, o.status);
                    update.setString(6, o.reason);
                    update.setLong(7, o.id);
                    update.addBatch();
                    updates++;
                }
            }
            if (inserts > 0) {
                insert.executeBatch();
            }
            if (updates > 0) {
                update.executeBatch();
            }
        }
        firstViews.clear();
    }

    private void writeTrades(Connection c, Batch batch) throws SQLException {
        if (batch.trades.isEmpty()) {
            return;
        }
        try (PreparedStatement ps = c.prepareStatement("""
                insert into forward_trades (id, instrument_id, taker_order_id, maker_order_id, buyer_org_id, seller_org_id,
                    taker_side, price_nano_usd, quantity, buyer_fee_nano_usd, seller_fee_nano_usd)
                values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""")) {
            for (TradeRow t : batch.trades) {
                ps.setLong(1, t.id());
                ps.setLong(2, instrument.id());
                ps.setLong(3, t.takerOrderId());
                ps.setLong(4, t.makerOrderId());
                ps.setObject(5, t.buyer());
                ps.setObject(6, t.seller());
                ps.setString(7, t.takerSide().name().toLowerCase(Locale.ROOT));
                ps.setLong(8, t.priceNanoUsd());
                ps.setLong(9, t.quantity());
                ps.setLong(10, t.buyerFeeNanoUsd());
                ps.setLong(11, t.sellerFeeNanoUsd());
                ps.addBatch();
            }
            ps.executeBatch();
        }
        try (PreparedStatement ps = c.prepareStatement("update forward_instruments set last_price_nano_usd = ? where id = ?")) {
            ps.setLong(1, batch.lastPriceNanoUsd);
            ps.setLong(2, instrument.id());
            ps.executeUpdate();
        }
    }

    /**
     * Replays the journal into a fresh book, then checks that the open orders it rebuilt are exactly those the
     * database says are open, with the same open quantities: a difference means a broken invariant, not a retry.
     */
    private void rebuild() {
        book = config.book().newBook();
        clearing = newClearing.get();
        open.clear();
        openByOwner.clear();
        firstViews.clear();
        lastSeq = 0;
        tradeCount = 0;
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("select seq, command from forward_journal where instrument_id = ? order by seq")) {
                ps.setFetchSize(10_000);
                ps.setLong(1, instrument.id());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        long seq = rs.getLong(1);
                        BookCommand command = JournalCodec.decode(rs.getString(2), orderIdOf(instrument.id(), seq));
                        OrderState subject = null;
                        UUID prepared = null;
                        if (command instanceof BookCommand.Place p) {
                            subject = new OrderState(p.orderId(), members.orgOf(p.owner()), p);
                            subject.isNew = true;
                            open.put(p.orderId(), subject);
                            clearing.placeOrder(p.orderId(), subject.orgId, p.side(), p.priceNanoUsd(),
                                    reservePrice(p.side(), p.priceNanoUsd(), p.postOnly()), p.quantity());
                        } else if (command instanceof BookCommand.Amend a && open.containsKey(a.orderId())) {
                            subject = open.get(a.orderId());
                            prepared = clearing.prepareAmend(a.orderId(), seq, a.priceNanoUsd(), a.quantity());
                        }
                        RecordedEvents out = new RecordedEvents();
                        book.apply(command, out);
                        if (command instanceof BookCommand.Amend a && !out.events().isEmpty()
                                && out.events().getFirst() instanceof RecordedEvents.Rejected) {
                            clearing.amendRefused(a.orderId(), prepared);
                            lastSeq = seq;
                            continue;
                        }
                        absorb(out.events(), null, subject, prepared);
                        if (subject != null) {
                            subject.isNew = false;
                        }
                        open.values().removeIf(o -> !"open".equals(o.status));
                        lastSeq = seq;
                    }
                }
            }
            c.commit();
            c.setAutoCommit(true);
            Map<Long, Long> stored = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "select id, open_quantity, client_order_id from forward_orders where instrument_id = ? and status = 'open'")) {
                ps.setLong(1, instrument.id());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        stored.put(rs.getLong(1), rs.getLong(2));
                        OrderState o = open.get(rs.getLong(1));
                        if (o != null) {
                            o.clientOrderId = rs.getString(3);
                        }
                    }
                }
            }
            Map<Long, Long> rebuilt = new HashMap<>();
            open.values().forEach(o -> rebuilt.put(o.id, o.open));
            if (!stored.equals(rebuilt)) {
                throw new IllegalStateException("the journal of " + instrument.symbol() + " rebuilds open orders " + rebuilt
                        + " but the database holds " + stored);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not replay the journal of " + instrument.symbol(), e);
        }
    }

    /** The book's open orders and positions, for tests and the verification of invariants. */
    OrderBook book() {
        return book;
    }

    private OrderView view(OrderState o) {
        return new OrderView(Long.toString(o.id), o.clientOrderId, instrument.symbol(), o.side.name().toLowerCase(Locale.ROOT),
                Money.formatUsd(o.price), o.quantity, o.open, o.filled, o.timeInForce.name().toLowerCase(Locale.ROOT),
                o.timeInForce == TimeInForce.GTD ? Instant.ofEpochMilli(o.expiresAtMillis) : null, o.postOnly, o.reduceOnly,
                o.stp.name().toLowerCase(Locale.ROOT), o.status, o.reason, o.fills == null ? List.of() : List.copyOf(o.fills));
    }

    private String writeView(OrderView view) {
        try {
            return json.writeValueAsString(view);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private OrderView readView(String text) {
        try {
            return json.readValue(text, OrderView.class);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("unreadable first answer: " + text, e);
        }
    }
}
