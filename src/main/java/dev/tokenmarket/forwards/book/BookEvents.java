package dev.tokenmarket.forwards.book;

/**
 * What a book reports, in the order it happens. Primitive arguments, so that a fast book can report without
 * allocating; {@link RecordedEvents} turns them into values that two books' outputs can be compared by.
 */
public interface BookEvents {

    enum Rejection {
        /** No resting order with this id belongs to the owner. */
        UNKNOWN_ORDER,
        /** A post-only order (or its amendment) would have traded. */
        WOULD_CROSS,
        /** A reduce-only order larger than what the owner's position leaves to reduce. */
        REDUCE_ONLY_WOULD_INCREASE,
        /** A GTD order whose expiry had passed. */
        EXPIRED,
        /** An order id the book has seen before. */
        DUPLICATE_ORDER_ID
    }

    enum CancelReason {
        USER, IOC_REMAINDER, FOK_UNFILLED, SELF_TRADE, EXPIRED, TRADING_STOPPED,
        /** A resting reduce-only order that its owner's smaller position no longer allows. */
        REDUCE_ONLY
    }

    /** The command changed nothing. */
    void rejected(long orderId, long owner, Rejection reason);

    /** The order now rests on the book with this open quantity. */
    void rested(long orderId, long owner, Side side, long priceNanoUsd, long openQuantity);

    /** A trade at the resting (maker) order's price. */
    void traded(long takerOrderId, long takerOwner, long makerOrderId, long makerOwner, Side takerSide,
                long priceNanoUsd, long quantity);

    /** The order left the book (or its remainder was never rested) with this much unfilled. */
    void cancelled(long orderId, long owner, long openQuantity, CancelReason reason);

    /** A resting order's new price and open quantity, and whether it kept its place in the queue. */
    void amended(long orderId, long owner, long priceNanoUsd, long openQuantity, boolean priorityKept);
}
