package dev.tokenmarket.forwards.book;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The obviously correct book: a sorted map of price levels per side, each a FIFO queue, and a map by order id.
 * It favours being easy to check over speed; the fast book of the next issue must agree with it event by event.
 */
public final class SimpleOrderBook implements OrderBook {

    private static final class Order {
        final long id;
        final long owner;
        final Side side;
        long price;
        long open;
        final TimeInForce timeInForce;
        final long expiresAtMillis;
        final boolean postOnly;
        final boolean reduceOnly;
        final SelfTradePrevention selfTradePrevention;

        Order(BookCommand.Place p) {
            id = p.orderId();
            owner = p.owner();
            side = p.side();
            price = p.priceNanoUsd();
            open = p.quantity();
            timeInForce = p.timeInForce();
            expiresAtMillis = p.expiresAtMillis();
            postOnly = p.postOnly();
            reduceOnly = p.reduceOnly();
            selfTradePrevention = p.selfTradePrevention();
        }
    }

    private final NavigableMap<Long, ArrayDeque<Order>> bids = new TreeMap<>(Comparator.reverseOrder());
    private final NavigableMap<Long, ArrayDeque<Order>> asks = new TreeMap<>();
    private final Map<Long, Order> byId = new HashMap<>();
    private final Map<Long, Long> positions = new HashMap<>();
    /** Each owner's resting reduce-only orders, oldest first. */
    private final Map<Long, TreeSet<Order>> reduceOnlyByOwner = new HashMap<>();

    private NavigableMap<Long, ArrayDeque<Order>> levels(Side side) {
        return side == Side.BUY ? bids : asks;
    }

    /** Whether an order on {@code side} at {@code limit} trades with a resting order at {@code restingPrice}. */
    private static boolean crosses(Side side, long limit, long restingPrice) {
        return side == Side.BUY ? restingPrice <= limit : restingPrice >= limit;
    }

    private boolean crossesBook(Side side, long limit) {
        Map.Entry<Long, ArrayDeque<Order>> best = levels(side.opposite()).firstEntry();
        return best != null && crosses(side, limit, best.getKey());
    }

    @Override
    public void place(BookCommand.Place p, BookEvents out) {
        if (p.quantity() <= 0 || p.priceNanoUsd() <= 0) {
            throw new IllegalArgumentException("an order needs a positive price and quantity: " + p);
        }
        if (byId.containsKey(p.orderId())) {
            out.rejected(p.orderId(), p.owner(), BookEvents.Rejection.DUPLICATE_ORDER_ID);
            return;
        }
        if (p.timeInForce() == TimeInForce.GTD && p.expiresAtMillis() <= p.atMillis()) {
            out.rejected(p.orderId(), p.owner(), BookEvents.Rejection.EXPIRED);
            return;
        }
        if (p.reduceOnly() && p.quantity() > reducible(p.owner(), p.side())) {
            out.rejected(p.orderId(), p.owner(), BookEvents.Rejection.REDUCE_ONLY_WOULD_INCREASE);
            return;
        }
        if (p.postOnly() && crossesBook(p.side(), p.priceNanoUsd())) {
            out.rejected(p.orderId(), p.owner(), BookEvents.Rejection.WOULD_CROSS);
            return;
        }
        Order order = new Order(p);
        if (p.timeInForce() == TimeInForce.FOK && !fillable(order)) {
            out.cancelled(order.id, order.owner, order.open, BookEvents.CancelReason.FOK_UNFILLED);
            return;
        }
        if (match(order, out)) {
            out.cancelled(order.id, order.owner, order.open, BookEvents.CancelReason.SELF_TRADE);
        } else if (order.open > 0) {
            if (order.timeInForce == TimeInForce.IOC || order.timeInForce == TimeInForce.FOK) {
                out.cancelled(order.id, order.owner, order.open, BookEvents.CancelReason.IOC_REMAINDER);
            } else {
                rest(order, out);
            }
        }
    }

    /** Whether the whole order would fill now, walking the book as matching would (self-trade prevention included). */
    private boolean fillable(Order taker) {
        long available = 0;
        for (Map.Entry<Long, ArrayDeque<Order>> level : levels(taker.side.opposite()).entrySet()) {
            if (!crosses(taker.side, taker.price, level.getKey())) {
                return false;
            }
            for (Order maker : level.getValue()) {
                if (maker.owner == taker.owner) {
                    if (taker.selfTradePrevention == SelfTradePrevention.CANCEL_RESTING) {
                        continue;
                    }
                    return false;
                }
                available += maker.open;
                if (available >= taker.open) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Trades the taker against the book; true when self-trade prevention stopped it (its remainder to be cancelled). */
    private boolean match(Order taker, BookEvents out) {
        NavigableMap<Long, ArrayDeque<Order>> opposite = levels(taker.side.opposite());
        while (taker.open > 0) {
            Map.Entry<Long, ArrayDeque<Order>> best = opposite.firstEntry();
            if (best == null || !crosses(taker.side, taker.price, best.getKey())) {
                return false;
            }
            Order maker = best.getValue().peekFirst();
            if (maker.owner == taker.owner) {
                switch (taker.selfTradePrevention) {
                    case CANCEL_INCOMING -> {
                        return true;
                    }
                    case CANCEL_RESTING -> {
                        remove(maker);
                        out.cancelled(maker.id, maker.owner, maker.open, BookEvents.CancelReason.SELF_TRADE);
                        continue;
                    }
                    case CANCEL_BOTH -> {
                        remove(maker);
                        out.cancelled(maker.id, maker.owner, maker.open, BookEvents.CancelReason.SELF_TRADE);
                        return true;
                    }
                }
            }
            long quantity = Math.min(taker.open, maker.open);
            taker.open -= quantity;
            maker.open -= quantity;
            out.traded(taker.id, taker.owner, maker.id, maker.owner, taker.side, maker.price, quantity);
            if (maker.open == 0) {
                remove(maker);
            }
            positions.merge(taker.owner, taker.side.sign() * quantity, Long::sum);
            positions.merge(maker.owner, maker.side.sign() * quantity, Long::sum);
            trimReduceOnly(maker.owner, out);
            trimReduceOnly(taker.owner, out);
        }
        return false;
    }

    private void rest(Order order, BookEvents out) {
        levels(order.side).computeIfAbsent(order.price, k -> new ArrayDeque<>()).addLast(order);
        byId.put(order.id, order);
        if (order.reduceOnly) {
            reduceOnlyByOwner.computeIfAbsent(order.owner, k -> new TreeSet<>(Comparator.comparingLong(o -> o.id))).add(order);
        }
        out.rested(order.id, order.owner, order.side, order.price, order.open);
    }

    private void remove(Order order) {
        NavigableMap<Long, ArrayDeque<Order>> side = levels(order.side);
        ArrayDeque<Order> level = side.get(order.price);
        level.remove(order);
        if (level.isEmpty()) {
            side.remove(order.price);
        }
        byId.remove(order.id);
        if (order.reduceOnly) {
            TreeSet<Order> owned = reduceOnlyByOwner.get(order.owner);
            owned.remove(order);
            if (owned.isEmpty()) {
                reduceOnlyByOwner.remove(order.owner);
            }
        }
    }

    /** Contracts a new reduce-only order of {@code owner} on {@code side} may have: the position less its resting reduce-only orders. */
    private long reducible(long owner, Side side) {
        long room = Math.max(0, -side.sign() * position(owner));
        TreeSet<Order> owned = reduceOnlyByOwner.get(owner);
        if (owned != null) {
            for (Order o : owned) {
                if (o.side == side) {
                    room -= o.open;
                }
            }
        }
        return Math.max(0, room);
    }

    /** Shrinks the owner's resting reduce-only orders, newest first, until they no longer exceed its position. */
    private void trimReduceOnly(long owner, BookEvents out) {
        TreeSet<Order> owned = reduceOnlyByOwner.get(owner);
        if (owned == null) {
            return;
        }
        for (Side side : Side.values()) {
            long room = Math.max(0, -side.sign() * position(owner));
            long total = 0;
            for (Order o : owned) {
                if (o.side == side) {
                    total += o.open;
                }
            }
            for (Order o : new ArrayList<>(owned.descendingSet())) {
                if (total <= room) {
                    break;
                }
                if (o.side != side) {
                    continue;
                }
                long excess = total - room;
                if (o.open <= excess) {
                    total -= o.open;
                    remove(o);
                    out.cancelled(o.id, o.owner, o.open, BookEvents.CancelReason.REDUCE_ONLY);
                } else {
                    o.open -= excess;
                    total = room;
                    out.amended(o.id, o.owner, o.price, o.open, true);
                }
            }
        }
    }

    @Override
    public void cancel(long orderId, long owner, BookEvents.CancelReason reason, BookEvents out) {
        Order order = byId.get(orderId);
        if (order == null || order.owner != owner) {
            out.rejected(orderId, owner, BookEvents.Rejection.UNKNOWN_ORDER);
            return;
        }
        remove(order);
        out.cancelled(order.id, order.owner, order.open, reason);
    }

    @Override
    public void amend(BookCommand.Amend a, BookEvents out) {
        if (a.quantity() <= 0 || a.priceNanoUsd() <= 0) {
            throw new IllegalArgumentException("an amendment needs a positive price and quantity: " + a);
        }
        Order order = byId.get(a.orderId());
        if (order == null || order.owner != a.owner()) {
            out.rejected(a.orderId(), a.owner(), BookEvents.Rejection.UNKNOWN_ORDER);
            return;
        }
        if (order.reduceOnly && a.quantity() > order.open && a.quantity() > order.open + reducible(order.owner, order.side)) {
            out.rejected(order.id, order.owner, BookEvents.Rejection.REDUCE_ONLY_WOULD_INCREASE);
            return;
        }
        if (a.priceNanoUsd() == order.price && a.quantity() <= order.open) {
            order.open = a.quantity();
            out.amended(order.id, order.owner, order.price, order.open, true);
            return;
        }
        if (order.postOnly && a.priceNanoUsd() != order.price && crossesBook(order.side, a.priceNanoUsd())) {
            out.rejected(order.id, order.owner, BookEvents.Rejection.WOULD_CROSS);
            return;
        }
        remove(order);
        order.price = a.priceNanoUsd();
        order.open = a.quantity();
        out.amended(order.id, order.owner, order.price, order.open, false);
        if (match(order, out)) {
            out.cancelled(order.id, order.owner, order.open, BookEvents.CancelReason.SELF_TRADE);
        } else if (order.open > 0) {
            rest(order, out);
        }
    }

    @Override
    public void cancelAll(long owner, BookEvents out) {
        cancelWhere(o -> o.owner == owner, BookEvents.CancelReason.USER, out);
    }

    @Override
    public void expire(long atMillis, BookEvents out) {
        cancelWhere(o -> o.timeInForce == TimeInForce.GTD && o.expiresAtMillis <= atMillis, BookEvents.CancelReason.EXPIRED, out);
    }

    @Override
    public void stopTrading(BookEvents out) {
        cancelWhere(o -> true, BookEvents.CancelReason.TRADING_STOPPED, out);
    }

    /** Cancels the matching orders in order id order, so that every book reports them alike. */
    private void cancelWhere(java.util.function.Predicate<Order> which, BookEvents.CancelReason reason, BookEvents out) {
        List<Order> chosen = new ArrayList<>();
        for (Order o : byId.values()) {
            if (which.test(o)) {
                chosen.add(o);
            }
        }
        chosen.sort(Comparator.comparingLong(o -> o.id));
        for (Order o : chosen) {
            remove(o);
            out.cancelled(o.id, o.owner, o.open, reason);
        }
    }

    @Override
    public List<Level> depth(Side side, int levelsMax) {
        List<Level> result = new ArrayList<>();
        for (Map.Entry<Long, ArrayDeque<Order>> level : levels(side).entrySet()) {
            if (result.size() == levelsMax) {
                break;
            }
            long quantity = 0;
            for (Order o : level.getValue()) {
                quantity += o.open;
            }
            result.add(new Level(level.getKey(), quantity, level.getValue().size()));
        }
        return result;
    }

    @Override
    public RestingOrder order(long orderId) {
        Order o = byId.get(orderId);
        return o == null ? null : view(o);
    }

    @Override
    public List<RestingOrder> resting() {
        List<RestingOrder> result = new ArrayList<>();
        for (NavigableMap<Long, ArrayDeque<Order>> side : List.of(bids, asks)) {
            for (ArrayDeque<Order> level : side.values()) {
                for (Order o : level) {
                    result.add(view(o));
                }
            }
        }
        return result;
    }

    private static RestingOrder view(Order o) {
        return new RestingOrder(o.id, o.owner, o.side, o.price, o.open, o.timeInForce, o.expiresAtMillis, o.reduceOnly);
    }

    @Override
    public long position(long owner) {
        return positions.getOrDefault(owner, 0L);
    }
}
