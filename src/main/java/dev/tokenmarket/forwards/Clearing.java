package dev.tokenmarket.forwards;

import dev.tokenmarket.forwards.book.Side;
import dev.tokenmarket.ledger.AccountKind;
import dev.tokenmarket.ledger.EntryCode;
import dev.tokenmarket.ledger.EntryDraft;
import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.ledger.Posting;
import dev.tokenmarket.ledger.RestingHolds;
import dev.tokenmarket.platform.Money;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The money of one instrument's book, with the platform as central counterparty (its clearing account takes
 * every buyer's payment and makes every seller's, so it nets to zero on each fill). Deterministic: the engine
 * runs it on every event, live within a group commit (then each step is collected into one
 * {@link RestingHolds.Batch} that {@link #flush} writes in the group's transaction, together with its journal
 * records) and on replay without a connection (then it only rebuilds what it tracks). While live it refuses an
 * order its owner's wallet cannot cover from what the wallet had available when the group began plus what the
 * group's own steps changed, so the refusals are those of writing each step on its own.
 *
 * <p>An open order always holds exactly what its open quantity may still need ({@link #needed}): a buy its
 * quantity at its limit plus the fee at the higher of the two fee rates; a sell that fee plus the bond on the
 * same notional. A fill captures what it costs and releases the rest of what the filled quantity held, so a
 * better price is released at once. A short is kept as chunks (one per fill that opened it), each with its
 * proceeds held on the seller's escrow account and its bond held on its wallet; a buy that closes a short
 * releases both for the closed units, oldest chunk first, the last unit of a chunk taking whatever rounding
 * left.
 */
final class Clearing {

    /** What an open order holds, on its owner's wallet. */
    static final class OrderMoney {
        final long orderId;
        final UUID orgId;
        final Side side;
        long limitNanoUsd;
        /**
         * The price its hold is computed at: the limit, except for a sell on its way through the book, which
         * may trade up to the best bid it found (its fee and bond then on that notional) until it rests.
         */
        long reserveNanoUsd;
        long openQuantity;
        UUID holdId;
        long heldNanoUsd;

        OrderMoney(long orderId, UUID orgId, Side side, long limitNanoUsd, long openQuantity) {
            this.orderId = orderId;
            this.orgId = orgId;
            this.side = side;
            this.limitNanoUsd = limitNanoUsd;
            this.reserveNanoUsd = limitNanoUsd;
            this.openQuantity = openQuantity;
        }
    }

    /** Units of a short opened by one fill, with what they hold. */
    static final class Chunk {
        final UUID proceedsHoldId;
        final UUID bondHoldId;
        long units;
        long proceedsNanoUsd;
        long bondNanoUsd;

        Chunk(UUID proceedsHoldId, UUID bondHoldId, long units, long proceedsNanoUsd, long bondNanoUsd) {
            this.proceedsHoldId = proceedsHoldId;
            this.bondHoldId = bondHoldId;
            this.units = units;
            this.proceedsNanoUsd = proceedsNanoUsd;
            this.bondNanoUsd = bondNanoUsd;
        }
    }

    static final class Position {
        long units;
        final ArrayDeque<Chunk> shorts = new ArrayDeque<>();
    }

    private final Instrument instrument;
    private final Product product;
    private final RestingHolds holds;
    private final LedgerAccounts accounts;
    private final Map<Long, OrderMoney> orders = new HashMap<>();
    private final Map<UUID, Position> positions = new HashMap<>();
    private final Map<UUID, Long> wallets = new HashMap<>();
    private final Map<UUID, Long> escrows = new HashMap<>();
    /** The amount of each new hold an amendment placed, until the book took or refused the amendment. */
    private final Map<UUID, Long> prepared = new HashMap<>();
    /** The group's connection while live; null while replaying. */
    private Connection c;
    /** The group's hold changes, not written yet. */
    private RestingHolds.Batch batch;
    /** What wallets had available when the group began (or when it last wrote its changes). */
    private final Map<Long, Long> availableBefore = new HashMap<>();

    Clearing(Instrument instrument, Product product, RestingHolds holds, LedgerAccounts accounts) {
        this.instrument = instrument;
        this.product = product;
        this.holds = holds;
        this.accounts = accounts;
    }

    /**
     * A group commit begins on {@code connection}: reads what the wallets of {@code orgs} (those that place
     * or amend orders in it) have available, in one statement.
     */
    void begin(Connection connection, Collection<UUID> orgs) throws SQLException {
        this.c = connection;
        this.batch = new RestingHolds.Batch();
        availableBefore.clear();
        List<Long> ids = new ArrayList<>();
        for (UUID org : orgs) {
            ids.add(wallet(org));
        }
        if (!ids.isEmpty()) {
            availableBefore.putAll(holds.available(c, ids));
        }
    }

    /** Writes the group's hold changes so far, in its transaction. */
    void flush() throws SQLException {
        holds.write(c, batch);
        batch = new RestingHolds.Batch();
        availableBefore.clear();
    }

    /** The group ended (committed or rolled back): replaying from here on. */
    void end() {
        c = null;
        batch = null;
        availableBefore.clear();
    }

    /** What the wallet has available now, within the group. */
    private long available(long wallet) throws SQLException {
        Long before = availableBefore.get(wallet);
        if (before == null) {
            // A wallet the group did not expect (none so far): what it has is read after the group's changes.
            flush();
            before = holds.available(c, List.of(wallet)).getOrDefault(wallet, 0L);
            availableBefore.put(wallet, before);
        }
        return before == Long.MAX_VALUE ? before : before + batch.availableChange(wallet);
    }

    /**
     * Collects a new hold of {@code need} on the org's wallet, which replaces one of {@code replaced} in the
     * same group (0 for none); refused when the wallet does not have the difference available.
     */
    private void placeOnWallet(UUID holdId, UUID org, long need, long replaced, String reference) throws SQLException {
        long wallet = wallet(org);
        if (need - replaced > available(wallet)) {
            throw RestingHolds.insufficientBalance(need - replaced);
        }
        batch.place(new RestingHolds.Draft(holdId, wallet, need, reference, null));
    }

    private int feeBpsMax() {
        return Math.max(product.makerFeeBps(), product.takerFeeBps());
    }

    /** What an order of {@code side} with {@code open} contracts at {@code limit} holds. */
    long needed(Side side, long open, long limitNanoUsd) {
        long notional = Math.multiplyExact(open, limitNanoUsd);
        long fee = Money.fee(notional, feeBpsMax());
        return side == Side.BUY ? notional + fee : fee + Money.fee(notional, product.bondRateBps());
    }

    private static UUID id(String name) {
        return UUID.nameUUIDFromBytes(name.getBytes(StandardCharsets.UTF_8));
    }

    private long wallet(UUID org) throws SQLException {
        Long known = wallets.get(org);
        if (known == null) {
            known = accounts.open(c, org, AccountKind.BUYER_WALLET);
            wallets.put(org, known);
        }
        return known;
    }

    private long escrow(UUID org) throws SQLException {
        Long known = escrows.get(org);
        if (known == null) {
            known = accounts.open(c, org, AccountKind.ESCROW);
            escrows.put(org, known);
        }
        return known;
    }

    /**
     * Holds what a new order needs, before the book sees it (its id is fixed: the journal sequence it will get).
     * Throws the ledger's 402 when the wallet does not cover it; nothing is written then.
     */
    void placeOrder(long orderId, UUID org, Side side, long limit, long reserve, long quantity) throws SQLException {
        OrderMoney money = new OrderMoney(orderId, org, side, limit, quantity);
        money.reserveNanoUsd = reserve;
        long need = needed(side, quantity, reserve);
        if (need > 0) {
            money.holdId = id("fwd-order:" + orderId);
            if (c != null) {
                placeOnWallet(money.holdId, org, need, 0, "fwd-order:" + orderId);
            }
            money.heldNanoUsd = need;
        }
        orders.put(orderId, money);
    }

    /**
     * Before an amendment reaches the book: when it needs more than the order holds, a new hold for all of it is
     * placed, refused (402) unless the wallet has the increase available; {@link #amended} then ends the old
     * one, or {@link #amendRefused} the new one, in the same group, so the wallet never holds both.
     */
    UUID prepareAmend(long orderId, long seq, long price, long open) throws SQLException {
        OrderMoney money = orders.get(orderId);
        long need = needed(money.side, open, price);
        if (need <= money.heldNanoUsd) {
            return null;
        }
        UUID newHold = id("fwd-order:" + orderId + ":" + seq);
        if (c != null) {
            placeOnWallet(newHold, money.orgId, need, money.heldNanoUsd, "fwd-order:" + orderId);
        }
        prepared.put(newHold, need);
        return newHold;
    }

    void amendRefused(long orderId, UUID preparedHold) throws SQLException {
        if (preparedHold != null) {
            long amount = prepared.remove(preparedHold);
            if (c != null) {
                batch.release(preparedHold, wallet(orders.get(orderId).orgId), amount);
            }
        }
    }

    /** The book took the amendment: the order now holds what its new price and open quantity need. */
    void amended(long orderId, long price, long open, UUID preparedHold) throws SQLException {
        OrderMoney money = orders.get(orderId);
        money.limitNanoUsd = price;
        money.reserveNanoUsd = price;
        money.openQuantity = open;
        long need = needed(money.side, open, price);
        if (preparedHold != null) {
            prepared.remove(preparedHold);
            if (c != null && money.holdId != null) {
                batch.release(money.holdId, wallet(money.orgId), money.heldNanoUsd);
            }
            money.holdId = preparedHold;
            money.heldNanoUsd = need;
        } else {
            shrinkTo(money, need);
        }
    }

    /** The order rests at its limit: it holds what its open quantity needs there, no longer up to the best bid. */
    void rested(long orderId) throws SQLException {
        OrderMoney money = orders.get(orderId);
        if (money.reserveNanoUsd != money.limitNanoUsd) {
            money.reserveNanoUsd = money.limitNanoUsd;
            shrinkTo(money, needed(money.side, money.openQuantity, money.limitNanoUsd));
        }
    }

    /** The book shrank a resting order (a reduce-only order its position no longer allows in full). */
    void reduced(long orderId, long open) throws SQLException {
        OrderMoney money = orders.get(orderId);
        money.openQuantity = open;
        shrinkTo(money, needed(money.side, open, money.limitNanoUsd));
    }

    private void shrinkTo(OrderMoney money, long need) throws SQLException {
        long excess = money.heldNanoUsd - need;
        if (excess < 0) {
            throw new IllegalStateException("order " + money.orderId + " holds " + money.heldNanoUsd + " but needs " + need);
        }
        if (excess > 0 && c != null) {
            batch.reduce(money.holdId, wallet(money.orgId), excess);
        }
        money.heldNanoUsd = need;
    }

    /** The order left the book (filled, cancelled, expired, refused): what it still holds is released. */
    void closed(long orderId) throws SQLException {
        OrderMoney money = orders.remove(orderId);
        if (money != null && money.holdId != null && c != null) {
            batch.release(money.holdId, wallet(money.orgId), money.heldNanoUsd);
        }
    }

    /**
     * One fill of {@code quantity} at {@code price}: the buyer pays notional and fee into clearing from its
     * order's hold; clearing pays the seller the notional, at once for the units that close its long, into its
     * held escrow for the units that open or add to its short (with their bond moved from the order's hold to a
     * hold of its own); the seller's fee comes from its order's hold; a buy that closes a short releases that
     * short's proceeds and bond. Each order then holds exactly what its open quantity needs. Answers the buyer's
     * and the seller's fee.
     */
    long[] traded(long tradeId, long buyOrderId, long sellOrderId, boolean buyerTakes, long price, long quantity) throws SQLException {
        OrderMoney buy = orders.get(buyOrderId);
        OrderMoney sell = orders.get(sellOrderId);
        long notional = Math.multiplyExact(price, quantity);
        long buyNeedAfter = needed(Side.BUY, buy.openQuantity - quantity, buy.limitNanoUsd);
        long sellNeedAfter = needed(Side.SELL, sell.openQuantity - quantity, sell.reserveNanoUsd);
        // Fees at the trade's notional, never more than the filled quantity held for them (the last fill takes the rest).
        long buyFeeHeld = buy.heldNanoUsd - buyNeedAfter - Math.multiplyExact(quantity, buy.limitNanoUsd);
        long buyFee = Math.min(Money.fee(notional, buyerTakes ? product.takerFeeBps() : product.makerFeeBps()), buyFeeHeld);
        long sellFeeAndBondHeld = sell.heldNanoUsd - sellNeedAfter;
        long sellFeeHeld = Money.fee(Math.multiplyExact(sell.openQuantity, sell.reserveNanoUsd), feeBpsMax())
                - Money.fee(Math.multiplyExact(sell.openQuantity - quantity, sell.reserveNanoUsd), feeBpsMax());
        long sellFee = Math.min(Money.fee(notional, buyerTakes ? product.makerFeeBps() : product.takerFeeBps()), sellFeeHeld);

        Position seller = positions.computeIfAbsent(sell.orgId, k -> new Position());
        Position buyer = positions.computeIfAbsent(buy.orgId, k -> new Position());
        long closesLong = Math.min(quantity, Math.max(0, seller.units));
        long opensShort = quantity - closesLong;
        long proceedsToEscrow = Math.multiplyExact(opensShort, price);
        long bond = Math.min(Money.fee(proceedsToEscrow, product.bondRateBps()), sellFeeAndBondHeld - sellFeeHeld);

        if (c != null) {
            long fees = accounts.platformAccount(AccountKind.FORWARD_FEES);
            long clearing = accounts.platformAccount(AccountKind.CLEARING);
            List<Posting> postings = new ArrayList<>();
            postings.add(Posting.debit(wallet(buy.orgId), notional + buyFee));
            postings.add(Posting.credit(clearing, notional));
            if (buyFee > 0) {
                postings.add(Posting.credit(fees, buyFee));
            }
            postings.add(Posting.debit(clearing, notional));
            if (closesLong > 0) {
                postings.add(Posting.credit(wallet(sell.orgId), Math.multiplyExact(closesLong, price)));
            }
            if (proceedsToEscrow > 0) {
                postings.add(Posting.credit(escrow(sell.orgId), proceedsToEscrow));
            }
            batch.capture(buy.holdId, wallet(buy.orgId), notional + buyFee, entry("fwd-trade:" + tradeId, EntryCode.CLEARING,
                    "forward trade " + tradeId + " on " + instrument.symbol() + ": " + quantity + " at " + Money.formatUsd(price), postings));
            if (sellFee > 0) {
                batch.capture(sell.holdId, wallet(sell.orgId), sellFee, entry("fwd-trade:" + tradeId + ":seller-fee", EntryCode.FEE,
                        "seller's fee on forward trade " + tradeId, List.of(Posting.debit(wallet(sell.orgId), sellFee), Posting.credit(fees, sellFee))));
            }
        }
        buy.heldNanoUsd -= notional + buyFee;
        sell.heldNanoUsd -= sellFee;
        buy.openQuantity -= quantity;
        sell.openQuantity -= quantity;
        if (opensShort > 0) {
            Chunk chunk = new Chunk(id("fwd-proceeds:" + tradeId), bond > 0 ? id("fwd-bond:" + tradeId) : null, opensShort, proceedsToEscrow, bond);
            if (c != null) {
                batch.place(new RestingHolds.Draft(chunk.proceedsHoldId, escrow(sell.orgId), proceedsToEscrow, "fwd-proceeds:" + tradeId, null));
                if (bond > 0) {
                    // The bond moves from the order's hold to one of the short's own, on the same wallet.
                    batch.reduce(sell.holdId, wallet(sell.orgId), bond);
                    batch.place(new RestingHolds.Draft(chunk.bondHoldId, wallet(sell.orgId), bond, "fwd-bond:" + tradeId, null));
                }
            }
            sell.heldNanoUsd -= bond;
            seller.shorts.addLast(chunk);
        }
        seller.units -= quantity;
        closeShort(buy.orgId, buyer, Math.min(quantity, Math.max(0, -buyer.units)));
        buyer.units += quantity;
        // An order this fill completes is released whole by closed(), which comes next: no reduce first.
        shrinkToUnlessDone(buy, buyNeedAfter);
        shrinkToUnlessDone(sell, sellNeedAfter);
        return new long[]{buyFee, sellFee};
    }

    private void shrinkToUnlessDone(OrderMoney money, long need) throws SQLException {
        if (money.openQuantity > 0) {
            shrinkTo(money, need);
        }
    }

    /** Releases the proceeds and bond of {@code units} short units, oldest chunk first. */
    private void closeShort(UUID org, Position position, long units) throws SQLException {
        while (units > 0) {
            Chunk chunk = position.shorts.peekFirst();
            long k = Math.min(units, chunk.units);
            if (k == chunk.units) {
                if (c != null) {
                    batch.release(chunk.proceedsHoldId, escrow(org), chunk.proceedsNanoUsd);
                    if (chunk.bondHoldId != null) {
                        batch.release(chunk.bondHoldId, wallet(org), chunk.bondNanoUsd);
                    }
                }
                position.shorts.removeFirst();
            } else {
                long proceeds = Math.multiplyExact(chunk.proceedsNanoUsd, k) / chunk.units;
                long bond = Math.multiplyExact(chunk.bondNanoUsd, k) / chunk.units;
                if (c != null) {
                    if (proceeds > 0) {
                        batch.reduce(chunk.proceedsHoldId, escrow(org), proceeds);
                    }
                    if (bond > 0) {
                        batch.reduce(chunk.bondHoldId, wallet(org), bond);
                    }
                }
                chunk.units -= k;
                chunk.proceedsNanoUsd -= proceeds;
                chunk.bondNanoUsd -= bond;
            }
            units -= k;
        }
    }

    private static EntryDraft entry(String name, EntryCode code, String description, List<Posting> postings) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest((name + "|" + postings).getBytes(StandardCharsets.UTF_8));
            return new EntryDraft(id(name), code, description, "{\"forward_trade\":\"" + name + "\"}", digest, postings, null);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The invariants of this book's money as the ledger holds it (live only, on the engine's thread). */
    record Check(long openShortUnits, long openShortEntryNotionalNanoUsd, long heldProceedsNanoUsd, String problem) {
    }

    /**
     * Reads every hold this book tracks from the ledger: each open order's must be what its open quantity needs,
     * each open short chunk's proceeds and bond what the chunk holds. Answers the first difference, if any.
     */
    Check check() throws SQLException {
        flush();
        String problem = null;
        for (OrderMoney m : orders.values()) {
            long held = m.holdId == null ? 0 : holds.state(c, m.holdId).heldNanoUsd();
            if (problem == null && (held != m.heldNanoUsd || m.heldNanoUsd != needed(m.side, m.openQuantity, m.limitNanoUsd))) {
                problem = "order " + m.orderId + " holds " + held + " nano-USD but needs " + needed(m.side, m.openQuantity, m.limitNanoUsd);
            }
        }
        long units = 0;
        long notional = 0;
        long heldProceeds = 0;
        for (Position p : positions.values()) {
            for (Chunk chunk : p.shorts) {
                units += chunk.units;
                notional += chunk.proceedsNanoUsd;
                long proceeds = holds.state(c, chunk.proceedsHoldId).heldNanoUsd();
                long bond = chunk.bondHoldId == null ? 0 : holds.state(c, chunk.bondHoldId).heldNanoUsd();
                heldProceeds += proceeds;
                if (problem == null && (proceeds != chunk.proceedsNanoUsd || bond != chunk.bondNanoUsd)) {
                    problem = "a short chunk of " + chunk.units + " holds proceeds " + proceeds + " and bond " + bond
                            + " nano-USD instead of " + chunk.proceedsNanoUsd + " and " + chunk.bondNanoUsd;
                }
            }
        }
        return new Check(units, notional, heldProceeds, problem);
    }
}
