package dev.tokenmarket.forwards.book;

/** What happens when an incoming order would trade with a resting order of its own organization. */
public enum SelfTradePrevention {
    /** The incoming order's remainder is cancelled; the resting order stays (the default). */
    CANCEL_INCOMING,
    /** The resting order is cancelled and the incoming order goes on matching. */
    CANCEL_RESTING,
    /** Both are cancelled. */
    CANCEL_BOTH
}
