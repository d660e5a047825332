package dev.tokenmarket.forwards.book;

import java.util.List;

/**
 * One instrument's limit order book: commands in, events out, nothing else. It never touches money or time
 * (both come in with the commands) and is deterministic, so that its journal rebuilds it and another
 * implementation can be compared with it event by event. Not thread-safe: one writer per book.
 */
public interface OrderBook {

    /** Applies one command and reports what it did to {@code out}. */
    default void apply(BookCommand command, BookEvents out) {
        switch (command) {
            case BookCommand.Place p -> place(p, out);
            case BookCommand.Cancel c -> cancel(c.orderId(), c.owner(), BookEvents.CancelReason.USER, out);
            case BookCommand.Amend a -> amend(a, out);
            case BookCommand.CancelAll c -> cancelAll(c.owner(), out);
            case BookCommand.Expire e -> expire(e.atMillis(), out);
            case BookCommand.StopTrading s -> stopTrading(out);
        }
    }

    void place(BookCommand.Place order, BookEvents out);

    void cancel(long orderId, long owner, BookEvents.CancelReason reason, BookEvents out);

    void amend(BookCommand.Amend amend, BookEvents out);

    void cancelAll(long owner, BookEvents out);

    void expire(long atMillis, BookEvents out);

    void stopTrading(BookEvents out);

    /** A resting order as the book holds it. */
    record RestingOrder(long orderId, long owner, Side side, long priceNanoUsd, long openQuantity,
                        TimeInForce timeInForce, long expiresAtMillis, boolean reduceOnly) {
    }

    /** One price level: its price, total open quantity and number of orders. */
    record Level(long priceNanoUsd, long quantity, int orders) {
    }

    /** The best {@code levelsMax} levels of one side, best first. */
    List<Level> depth(Side side, int levelsMax);

    /** The resting order with this id, or null. */
    RestingOrder order(long orderId);

    /** Every resting order, bids best first then asks best first, each level in time priority: the book's whole state. */
    List<RestingOrder> resting();

    /** The owner's net position from this book's trades, in contracts: positive long, negative short. */
    long position(long owner);
}
