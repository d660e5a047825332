package dev.tokenmarket.forwards.book;

/**
 * What a book is told to do. Commands carry everything they need, the time included, so that a book fed
 * the same commands produces the same events (the journal replays them after a restart). Prices are
 * nano-USD per contract, quantities contracts, owners the organizations' member numbers.
 */
public sealed interface BookCommand {

    /** A new limit order; {@code expiresAtMillis} only for GTD (0 otherwise). */
    record Place(long orderId, long owner, Side side, long priceNanoUsd, long quantity, TimeInForce timeInForce,
                 long expiresAtMillis, boolean postOnly, boolean reduceOnly, SelfTradePrevention selfTradePrevention,
                 long atMillis) implements BookCommand {
    }

    /** Cancels one resting order of {@code owner}. */
    record Cancel(long orderId, long owner) implements BookCommand {
    }

    /**
     * Sets a resting order's price and open quantity: a smaller quantity at the same price keeps its place in
     * the queue; a new price or a larger quantity sends it to the back (and a new price may trade at once).
     */
    record Amend(long orderId, long owner, long priceNanoUsd, long quantity, long atMillis) implements BookCommand {
    }

    /** Cancels every resting order of {@code owner}. */
    record CancelAll(long owner) implements BookCommand {
    }

    /** Cancels every GTD order whose expiry is at or before {@code atMillis}. */
    record Expire(long atMillis) implements BookCommand {
    }

    /** Trading stopped: every resting order is cancelled. */
    record StopTrading() implements BookCommand {
    }
}
