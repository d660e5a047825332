package dev.tokenmarket.forwards.book;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The fast book: the same behaviour as {@link SimpleOrderBook}, event for event (the differential test holds
 * them to it), in structures that do not allocate per order once they have grown to the book's size.
 *
 * <ul>
 *   <li>Orders live in a pool of parallel primitive arrays, addressed by int; a freed slot is reused.</li>
 *   <li>Each price level is an intrusive FIFO list of orders with its total open quantity.</li>
 *   <li>Each side keeps its levels in an array sorted worst to best, the best at the end: matching takes and
 *       removes levels at the end without moving anything, and a new level near the touch moves only the few
 *       levels better than it.</li>
 *   <li>An open-addressing index by order id finds the order to cancel or amend; one by owner finds the
 *       owner's position, its orders (for cancel all) and its reduce-only orders kept in id order.</li>
 *   <li>GTD orders sit in a min-heap by expiry that knows each order's place in it, so that a cancel takes the
 *       order out at once and an expiry pops only what expired.</li>
 * </ul>
 * Everything is long arithmetic; not thread-safe (one writer per book).
 */
public final class FastOrderBook implements OrderBook {

    private static final int BUY = 0, SELL = 1;
    private static final Side[] SIDES = {Side.BUY, Side.SELL};
    private static final TimeInForce[] TIFS = TimeInForce.values();
    private static final int GTD = TimeInForce.GTD.ordinal(),
            IOC = TimeInForce.IOC.ordinal(), FOK = TimeInForce.FOK.ordinal();
    private static final int CANCEL_INCOMING = SelfTradePrevention.CANCEL_INCOMING.ordinal(),
            CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING.ordinal();

    // Orders; slot 0 is "none". Free slots are chained through orderNext.
    private long[] orderId, orderOwner, orderPrice, orderOpen, orderExpires;
    private byte[] orderSide, orderTif, orderStp;
    private boolean[] orderPostOnly, orderReduceOnly;
    private int[] orderLevel, orderPrev, orderNext, orderAccount, ownerPrev, ownerNext, reduceOnlyPrev, reduceOnlyNext, heapIndex;
    private int orderSlots = 1;
    private int freeOrder;

    // Price levels; slot 0 is "none". Free slots are chained through levelHead.
    private long[] levelPrice, levelQuantity;
    private int[] levelCount, levelHead, levelTail;
    private int levelSlots = 1;
    private int freeLevel;

    // Per side: level slots sorted worst to best, with their sort keys (price for bids, -price for asks).
    private final int[][] sideLevels = new int[2][];
    private final long[][] sideKeys = new long[2][];
    private final int[] sideCount = new int[2];

    // Owners ("accounts"): slot 0 is "none". Reduce-only lists and sums are per account and side (account * 2 + side).
    private final LongIntIndex accounts;
    private long[] accountOwner, accountPosition, reduceOnlySum;
    private int[] accountHead, reduceOnlyHead, reduceOnlyTail, reduceOnlyCount;
    private int accountSlots = 1;

    private final LongIntIndex byId;

    // GTD orders by expiry: a binary min-heap from index 1.
    private int[] heap;
    private int heapSize;

    private long[] scratch = new long[64];

    // What the last match left: set by match, read right after it.
    private boolean stoppedBySelfTrade;

    public FastOrderBook() {
        this(1024);
    }

    /** A book with room for {@code ordersExpected} resting orders before it first grows. */
    public FastOrderBook(int ordersExpected) {
        int n = Math.max(4, ordersExpected);
        orderId = new long[n];
        orderOwner = new long[n];
        orderPrice = new long[n];
        orderOpen = new long[n];
        orderExpires = new long[n];
        orderSide = new byte[n];
        orderTif = new byte[n];
        orderStp = new byte[n];
        orderPostOnly = new boolean[n];
        orderReduceOnly = new boolean[n];
        orderLevel = new int[n];
        orderPrev = new int[n];
        orderNext = new int[n];
        orderAccount = new int[n];
        ownerPrev = new int[n];
        ownerNext = new int[n];
        reduceOnlyPrev = new int[n];
        reduceOnlyNext = new int[n];
        heapIndex = new int[n];
        int levels = Math.max(4, Math.min(n, 4096));
        levelPrice = new long[levels];
        levelQuantity = new long[levels];
        levelCount = new int[levels];
        levelHead = new int[levels];
        levelTail = new int[levels];
        for (int s = 0; s < 2; s++) {
            sideLevels[s] = new int[levels];
            sideKeys[s] = new long[levels];
        }
        accounts = new LongIntIndex(64);
        accountOwner = new long[64];
        accountPosition = new long[64];
        accountHead = new int[64];
        reduceOnlySum = new long[128];
        reduceOnlyHead = new int[128];
        reduceOnlyTail = new int[128];
        reduceOnlyCount = new int[64];
        byId = new LongIntIndex(n);
        heap = new int[n + 1];
    }

    // ---------------------------------------------------------------- commands

    @Override
    public void place(BookCommand.Place p, BookEvents out) {
        if (p.quantity() <= 0 || p.priceNanoUsd() <= 0) {
            throw new IllegalArgumentException("an order needs a positive price and quantity: " + p);
        }
        place(p.orderId(), p.owner(), p.side(), p.priceNanoUsd(), p.quantity(), p.timeInForce(), p.expiresAtMillis(),
                p.postOnly(), p.reduceOnly(), p.selfTradePrevention(), p.atMillis(), out);
    }

    /** {@link #place(BookCommand.Place, BookEvents)} without the command object. */
    public void place(long id, long owner, Side side, long price, long quantity, TimeInForce timeInForce, long expiresAtMillis,
                      boolean postOnly, boolean reduceOnly, SelfTradePrevention stp, long atMillis, BookEvents out) {
        if (quantity <= 0 || price <= 0) {
            throw new IllegalArgumentException("an order needs a positive price and quantity: " + id);
        }
        int s = side.ordinal();
        int tif = timeInForce.ordinal();
        if (byId.get(id) != 0) {
            out.rejected(id, owner, BookEvents.Rejection.DUPLICATE_ORDER_ID);
            return;
        }
        if (tif == GTD && expiresAtMillis <= atMillis) {
            out.rejected(id, owner, BookEvents.Rejection.EXPIRED);
            return;
        }
        if (reduceOnly && quantity > reducible(accounts.get(owner), s)) {
            out.rejected(id, owner, BookEvents.Rejection.REDUCE_ONLY_WOULD_INCREASE);
            return;
        }
        if (postOnly && crossesBook(s, price)) {
            out.rejected(id, owner, BookEvents.Rejection.WOULD_CROSS);
            return;
        }
        int stpCode = stp.ordinal();
        if (tif == FOK && !fillable(owner, s, price, quantity, stpCode)) {
            out.cancelled(id, owner, quantity, BookEvents.CancelReason.FOK_UNFILLED);
            return;
        }
        int account = account(owner);
        long open = match(id, owner, account, s, price, quantity, stpCode, out);
        if (stoppedBySelfTrade) {
            out.cancelled(id, owner, open, BookEvents.CancelReason.SELF_TRADE);
        } else if (open > 0) {
            if (tif == IOC || tif == FOK) {
                out.cancelled(id, owner, open, BookEvents.CancelReason.IOC_REMAINDER);
            } else {
                rest(id, owner, account, s, price, open, tif, expiresAtMillis, postOnly, reduceOnly, stpCode, out);
            }
        }
    }

    @Override
    public void cancel(long id, long owner, BookEvents.CancelReason reason, BookEvents out) {
        int o = byId.get(id);
        if (o == 0 || orderOwner[o] != owner) {
            out.rejected(id, owner, BookEvents.Rejection.UNKNOWN_ORDER);
            return;
        }
        long open = orderOpen[o];
        remove(o);
        out.cancelled(id, owner, open, reason);
    }

    @Override
    public void amend(BookCommand.Amend a, BookEvents out) {
        if (a.quantity() <= 0 || a.priceNanoUsd() <= 0) {
            throw new IllegalArgumentException("an amendment needs a positive price and quantity: " + a);
        }
        amend(a.orderId(), a.owner(), a.priceNanoUsd(), a.quantity(), out);
    }

    /** {@link #amend(BookCommand.Amend, BookEvents)} without the command object. */
    public void amend(long id, long owner, long price, long quantity, BookEvents out) {
        if (quantity <= 0 || price <= 0) {
            throw new IllegalArgumentException("an amendment needs a positive price and quantity: " + id);
        }
        int o = byId.get(id);
        if (o == 0 || orderOwner[o] != owner) {
            out.rejected(id, owner, BookEvents.Rejection.UNKNOWN_ORDER);
            return;
        }
        int s = orderSide[o];
        int account = orderAccount[o];
        long open = orderOpen[o];
        boolean reduceOnly = orderReduceOnly[o];
        if (reduceOnly && quantity > open && quantity > open + reducible(account, s)) {
            out.rejected(id, owner, BookEvents.Rejection.REDUCE_ONLY_WOULD_INCREASE);
            return;
        }
        long oldPrice = orderPrice[o];
        if (price == oldPrice && quantity <= open) {
            reduceOpen(o, open - quantity);
            out.amended(id, owner, price, quantity, true);
            return;
        }
        boolean postOnly = orderPostOnly[o];
        if (postOnly && price != oldPrice && crossesBook(s, price)) {
            out.rejected(id, owner, BookEvents.Rejection.WOULD_CROSS);
            return;
        }
        int tif = orderTif[o];
        long expires = orderExpires[o];
        int stp = orderStp[o];
        remove(o);
        out.amended(id, owner, price, quantity, false);
        long left = match(id, owner, account, s, price, quantity, stp, out);
        if (stoppedBySelfTrade) {
            out.cancelled(id, owner, left, BookEvents.CancelReason.SELF_TRADE);
        } else if (left > 0) {
            rest(id, owner, account, s, price, left, tif, expires, postOnly, reduceOnly, stp, out);
        }
    }

    @Override
    public void cancelAll(long owner, BookEvents out) {
        int account = accounts.get(owner);
        if (account == 0) {
            return;
        }
        int n = 0;
        for (int o = accountHead[account]; o != 0; o = ownerNext[o]) {
            n = addScratch(n, orderId[o]);
        }
        cancelSorted(n, BookEvents.CancelReason.USER, out);
    }

    @Override
    public void expire(long atMillis, BookEvents out) {
        int n = 0;
        while (heapSize > 0 && orderExpires[heap[1]] <= atMillis) {
            int o = heap[1];
            heapRemove(o);
            n = addScratch(n, orderId[o]);
        }
        cancelSorted(n, BookEvents.CancelReason.EXPIRED, out);
    }

    @Override
    public void stopTrading(BookEvents out) {
        if (scratch.length < byId.size()) {
            scratch = new long[Integer.highestOneBit(byId.size()) << 1];
        }
        cancelSorted(byId.keys(scratch), BookEvents.CancelReason.TRADING_STOPPED, out);
    }

    private int addScratch(int n, long id) {
        if (n == scratch.length) {
            scratch = Arrays.copyOf(scratch, n * 2);
        }
        scratch[n] = id;
        return n + 1;
    }

    /** Cancels the orders whose ids are the first {@code n} of the scratch array, in id order as every book reports them. */
    private void cancelSorted(int n, BookEvents.CancelReason reason, BookEvents out) {
        Arrays.sort(scratch, 0, n);
        for (int i = 0; i < n; i++) {
            int o = byId.get(scratch[i]);
            long open = orderOpen[o];
            long owner = orderOwner[o];
            remove(o);
            out.cancelled(scratch[i], owner, open, reason);
        }
    }

    // ---------------------------------------------------------------- matching

    private static boolean crosses(int side, long limit, long restingPrice) {
        return side == BUY ? restingPrice <= limit : restingPrice >= limit;
    }

    private boolean crossesBook(int side, long limit) {
        int opposite = side ^ 1;
        int n = sideCount[opposite];
        return n > 0 && crosses(side, limit, levelPrice[sideLevels[opposite][n - 1]]);
    }

    /** Whether the whole quantity would fill now, walking the book as matching would (self-trade prevention included). */
    private boolean fillable(long owner, int side, long limit, long quantity, int stp) {
        int opposite = side ^ 1;
        int[] levels = sideLevels[opposite];
        long available = 0;
        for (int i = sideCount[opposite] - 1; i >= 0; i--) {
            int level = levels[i];
            if (!crosses(side, limit, levelPrice[level])) {
                return false;
            }
            for (int o = levelHead[level]; o != 0; o = orderNext[o]) {
                if (orderOwner[o] == owner) {
                    if (stp == CANCEL_RESTING) {
                        continue;
                    }
                    return false;
                }
                available += orderOpen[o];
                if (available >= quantity) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * Trades an incoming order against the book and returns what it left open; {@link #stoppedBySelfTrade} says
     * whether self-trade prevention stopped it (its remainder then to be cancelled).
     */
    private long match(long id, long owner, int account, int side, long limit, long open, int stp, BookEvents out) {
        stoppedBySelfTrade = false;
        int opposite = side ^ 1;
        Side takerSide = SIDES[side];
        long sign = side == BUY ? 1 : -1;
        while (open > 0) {
            int n = sideCount[opposite];
            if (n == 0) {
                return open;
            }
            int level = sideLevels[opposite][n - 1];
            long price = levelPrice[level];
            if (!crosses(side, limit, price)) {
                return open;
            }
            int maker = levelHead[level];
            long makerId = orderId[maker];
            long makerOwner = orderOwner[maker];
            long makerOpen = orderOpen[maker];
            if (makerOwner == owner) {
                if (stp != CANCEL_INCOMING) {
                    remove(maker);
                    out.cancelled(makerId, makerOwner, makerOpen, BookEvents.CancelReason.SELF_TRADE);
                }
                if (stp == CANCEL_RESTING) {
                    continue;
                }
                stoppedBySelfTrade = true;
                return open;
            }
            long quantity = Math.min(open, makerOpen);
            open -= quantity;
            int makerAccount = orderAccount[maker];
            out.traded(id, owner, makerId, makerOwner, takerSide, price, quantity);
            if (makerOpen == quantity) {
                remove(maker);
            } else {
                reduceOpen(maker, quantity);
            }
            accountPosition[account] += sign * quantity;
            accountPosition[makerAccount] -= sign * quantity;
            if (reduceOnlyCount[makerAccount] != 0) {
                trimReduceOnly(makerAccount, out);
            }
            if (reduceOnlyCount[account] != 0) {
                trimReduceOnly(account, out);
            }
        }
        return open;
    }

    /** Contracts a new reduce-only order on {@code side} may have: the position less the resting reduce-only orders on that side. */
    private long reducible(int account, int side) {
        if (account == 0) {
            return 0;
        }
        long position = accountPosition[account];
        long room = Math.max(0, side == BUY ? -position : position);
        return Math.max(0, room - reduceOnlySum[account * 2 + side]);
    }

    /** Shrinks the account's resting reduce-only orders, newest (largest id) first, until they no longer exceed its position. */
    private void trimReduceOnly(int account, BookEvents out) {
        for (int side = BUY; side <= SELL; side++) {
            int list = account * 2 + side;
            long position = accountPosition[account];
            long room = Math.max(0, side == BUY ? -position : position);
            long total = reduceOnlySum[list];
            int o = reduceOnlyTail[list];
            while (o != 0 && total > room) {
                int older = reduceOnlyPrev[o];
                long open = orderOpen[o];
                long excess = total - room;
                if (open <= excess) {
                    total -= open;
                    long id = orderId[o];
                    remove(o);
                    out.cancelled(id, accountOwner[account], open, BookEvents.CancelReason.REDUCE_ONLY);
                } else {
                    reduceOpen(o, excess);
                    total = room;
                    out.amended(orderId[o], accountOwner[account], orderPrice[o], orderOpen[o], true);
                }
                o = older;
            }
        }
    }

    // ---------------------------------------------------------------- structure

    private int account(long owner) {
        int account = accounts.get(owner);
        if (account != 0) {
            return account;
        }
        account = accountSlots++;
        if (account == accountOwner.length) {
            int n = account * 2;
            accountOwner = Arrays.copyOf(accountOwner, n);
            accountPosition = Arrays.copyOf(accountPosition, n);
            accountHead = Arrays.copyOf(accountHead, n);
            reduceOnlyCount = Arrays.copyOf(reduceOnlyCount, n);
            reduceOnlySum = Arrays.copyOf(reduceOnlySum, n * 2);
            reduceOnlyHead = Arrays.copyOf(reduceOnlyHead, n * 2);
            reduceOnlyTail = Arrays.copyOf(reduceOnlyTail, n * 2);
        }
        accountOwner[account] = owner;
        accounts.put(owner, account);
        return account;
    }

    private void rest(long id, long owner, int account, int side, long price, long open, int tif, long expires, boolean postOnly,
                      boolean reduceOnly, int stp, BookEvents out) {
        int o = newOrder();
        orderId[o] = id;
        orderOwner[o] = owner;
        orderPrice[o] = price;
        orderOpen[o] = open;
        orderExpires[o] = expires;
        orderSide[o] = (byte) side;
        orderTif[o] = (byte) tif;
        orderStp[o] = (byte) stp;
        orderPostOnly[o] = postOnly;
        orderReduceOnly[o] = reduceOnly;
        orderAccount[o] = account;

        int level = level(side, price);
        orderLevel[o] = level;
        int tail = levelTail[level];
        orderPrev[o] = tail;
        orderNext[o] = 0;
        if (tail == 0) {
            levelHead[level] = o;
        } else {
            orderNext[tail] = o;
        }
        levelTail[level] = o;
        levelQuantity[level] += open;
        levelCount[level]++;

        int head = accountHead[account];
        ownerPrev[o] = 0;
        ownerNext[o] = head;
        if (head != 0) {
            ownerPrev[head] = o;
        }
        accountHead[account] = o;

        if (reduceOnly) {
            linkReduceOnly(o, account * 2 + side);
            reduceOnlyCount[account]++;
        }
        heapIndex[o] = 0;
        if (tif == GTD) {
            heapAdd(o);
        }
        byId.put(id, o);
        out.rested(id, owner, SIDES[side], price, open);
    }

    /** Takes {@code by} contracts off a resting order's open quantity, keeping its place. */
    private void reduceOpen(int o, long by) {
        orderOpen[o] -= by;
        levelQuantity[orderLevel[o]] -= by;
        if (orderReduceOnly[o]) {
            reduceOnlySum[orderAccount[o] * 2 + orderSide[o]] -= by;
        }
    }

    /** Takes a resting order off the book and out of every index. */
    private void remove(int o) {
        int level = orderLevel[o];
        int prev = orderPrev[o];
        int next = orderNext[o];
        if (prev == 0) {
            levelHead[level] = next;
        } else {
            orderNext[prev] = next;
        }
        if (next == 0) {
            levelTail[level] = prev;
        } else {
            orderPrev[next] = prev;
        }
        levelQuantity[level] -= orderOpen[o];
        if (--levelCount[level] == 0) {
            removeLevel(orderSide[o], level);
        }

        int account = orderAccount[o];
        int ownerBefore = ownerPrev[o];
        int ownerAfter = ownerNext[o];
        if (ownerBefore == 0) {
            accountHead[account] = ownerAfter;
        } else {
            ownerNext[ownerBefore] = ownerAfter;
        }
        if (ownerAfter != 0) {
            ownerPrev[ownerAfter] = ownerBefore;
        }

        if (orderReduceOnly[o]) {
            unlinkReduceOnly(o, account * 2 + orderSide[o]);
            reduceOnlyCount[account]--;
        }
        if (heapIndex[o] != 0) {
            heapRemove(o);
        }
        byId.remove(orderId[o]);
        orderNext[o] = freeOrder;
        freeOrder = o;
    }

    private int newOrder() {
        if (freeOrder != 0) {
            int o = freeOrder;
            freeOrder = orderNext[o];
            return o;
        }
        if (orderSlots == orderId.length) {
            growOrders(orderSlots * 2);
        }
        return orderSlots++;
    }

    private void growOrders(int n) {
        orderId = Arrays.copyOf(orderId, n);
        orderOwner = Arrays.copyOf(orderOwner, n);
        orderPrice = Arrays.copyOf(orderPrice, n);
        orderOpen = Arrays.copyOf(orderOpen, n);
        orderExpires = Arrays.copyOf(orderExpires, n);
        orderSide = Arrays.copyOf(orderSide, n);
        orderTif = Arrays.copyOf(orderTif, n);
        orderStp = Arrays.copyOf(orderStp, n);
        orderPostOnly = Arrays.copyOf(orderPostOnly, n);
        orderReduceOnly = Arrays.copyOf(orderReduceOnly, n);
        orderLevel = Arrays.copyOf(orderLevel, n);
        orderPrev = Arrays.copyOf(orderPrev, n);
        orderNext = Arrays.copyOf(orderNext, n);
        orderAccount = Arrays.copyOf(orderAccount, n);
        ownerPrev = Arrays.copyOf(ownerPrev, n);
        ownerNext = Arrays.copyOf(ownerNext, n);
        heapIndex = Arrays.copyOf(heapIndex, n);
        reduceOnlyPrev = Arrays.copyOf(reduceOnlyPrev, n);
        reduceOnlyNext = Arrays.copyOf(reduceOnlyNext, n);
        heap = Arrays.copyOf(heap, n + 1);
    }

    /** Links a reduce-only order into its owner's list for its side, kept in ascending id order. */
    private void linkReduceOnly(int o, int list) {
        long id = orderId[o];
        int after = reduceOnlyTail[list];
        while (after != 0 && orderId[after] > id) {
            after = reduceOnlyPrev[after];
        }
        int before = after == 0 ? reduceOnlyHead[list] : reduceOnlyNext[after];
        reduceOnlyPrev[o] = after;
        reduceOnlyNext[o] = before;
        if (after == 0) {
            reduceOnlyHead[list] = o;
        } else {
            reduceOnlyNext[after] = o;
        }
        if (before == 0) {
            reduceOnlyTail[list] = o;
        } else {
            reduceOnlyPrev[before] = o;
        }
        reduceOnlySum[list] += orderOpen[o];
    }

    private void unlinkReduceOnly(int o, int list) {
        int prev = reduceOnlyPrev[o];
        int next = reduceOnlyNext[o];
        if (prev == 0) {
            reduceOnlyHead[list] = next;
        } else {
            reduceOnlyNext[prev] = next;
        }
        if (next == 0) {
            reduceOnlyTail[list] = prev;
        } else {
            reduceOnlyPrev[next] = prev;
        }
        reduceOnlySum[list] -= orderOpen[o];
    }

    /** The level of {@code price} on {@code side}, created (in its sorted place) when there is none. */
    private int level(int side, long price) {
        long key = side == BUY ? price : -price;
        long[] keys = sideKeys[side];
        int[] levels = sideLevels[side];
        int n = sideCount[side];
        if (n > 0 && keys[n - 1] == key) {
            return levels[n - 1];
        }
        int at = Arrays.binarySearch(keys, 0, n, key);
        if (at >= 0) {
            return levels[at];
        }
        at = -at - 1;
        if (n == keys.length) {
            keys = sideKeys[side] = Arrays.copyOf(keys, n * 2);
            levels = sideLevels[side] = Arrays.copyOf(levels, n * 2);
        }
        System.arraycopy(keys, at, keys, at + 1, n - at);
        System.arraycopy(levels, at, levels, at + 1, n - at);
        int level = newLevel();
        levelPrice[level] = price;
        levelQuantity[level] = 0;
        levelCount[level] = 0;
        levelHead[level] = 0;
        levelTail[level] = 0;
        keys[at] = key;
        levels[at] = level;
        sideCount[side] = n + 1;
        return level;
    }

    private void removeLevel(int side, int level) {
        long price = levelPrice[level];
        long key = side == BUY ? price : -price;
        long[] keys = sideKeys[side];
        int[] levels = sideLevels[side];
        int n = sideCount[side];
        int at = keys[n - 1] == key ? n - 1 : Arrays.binarySearch(keys, 0, n, key);
        System.arraycopy(keys, at + 1, keys, at, n - at - 1);
        System.arraycopy(levels, at + 1, levels, at, n - at - 1);
        sideCount[side] = n - 1;
        levelHead[level] = freeLevel;
        freeLevel = level;
    }

    private int newLevel() {
        if (freeLevel != 0) {
            int level = freeLevel;
            freeLevel = levelHead[level];
            return level;
        }
        if (levelSlots == levelPrice.length) {
            int n = levelSlots * 2;
            levelPrice = Arrays.copyOf(levelPrice, n);
            levelQuantity = Arrays.copyOf(levelQuantity, n);
            levelCount = Arrays.copyOf(levelCount, n);
            levelHead = Arrays.copyOf(levelHead, n);
            levelTail = Arrays.copyOf(levelTail, n);
        }
        return levelSlots++;
    }

    private void heapAdd(int o) {
        int i = ++heapSize;
        heap[i] = o;
        heapIndex[o] = i;
        siftUp(i);
    }

    private void heapRemove(int o) {
        int i = heapIndex[o];
        heapIndex[o] = 0;
        int last = heap[heapSize--];
        if (last == o) {
            return;
        }
        heap[i] = last;
        heapIndex[last] = i;
        siftDown(i);
        siftUp(heapIndex[last]);
    }

    private void siftUp(int i) {
        int o = heap[i];
        long expires = orderExpires[o];
        while (i > 1) {
            int parent = heap[i >> 1];
            if (orderExpires[parent] <= expires) {
                break;
            }
            heap[i] = parent;
            heapIndex[parent] = i;
            i >>= 1;
        }
        heap[i] = o;
        heapIndex[o] = i;
    }

    private void siftDown(int i) {
        int o = heap[i];
        long expires = orderExpires[o];
        while (true) {
            int child = i << 1;
            if (child > heapSize) {
                break;
            }
            if (child < heapSize && orderExpires[heap[child + 1]] < orderExpires[heap[child]]) {
                child++;
            }
            if (orderExpires[heap[child]] >= expires) {
                break;
            }
            heap[i] = heap[child];
            heapIndex[heap[i]] = i;
            i = child;
        }
        heap[i] = o;
        heapIndex[o] = i;
    }

    // ---------------------------------------------------------------- reads

    @Override
    public List<Level> depth(Side side, int levelsMax) {
        int s = side.ordinal();
        List<Level> result = new ArrayList<>();
        for (int i = sideCount[s] - 1; i >= 0 && result.size() < levelsMax; i--) {
            int level = sideLevels[s][i];
            result.add(new Level(levelPrice[level], levelQuantity[level], levelCount[level]));
        }
        return result;
    }

    @Override
    public RestingOrder order(long id) {
        int o = byId.get(id);
        return o == 0 ? null : view(o);
    }

    @Override
    public List<RestingOrder> resting() {
        List<RestingOrder> result = new ArrayList<>(byId.size());
        for (int s = BUY; s <= SELL; s++) {
            for (int i = sideCount[s] - 1; i >= 0; i--) {
                for (int o = levelHead[sideLevels[s][i]]; o != 0; o = orderNext[o]) {
                    result.add(view(o));
                }
            }
        }
        return result;
    }

    private RestingOrder view(int o) {
        return new RestingOrder(orderId[o], orderOwner[o], SIDES[orderSide[o]], orderPrice[o], orderOpen[o], TIFS[orderTif[o]],
                orderExpires[o], orderReduceOnly[o]);
    }

    @Override
    public long position(long owner) {
        int account = accounts.get(owner);
        return account == 0 ? 0 : accountPosition[account];
    }
}
