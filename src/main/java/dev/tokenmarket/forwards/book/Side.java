package dev.tokenmarket.forwards.book;

public enum Side {
    BUY, SELL;

    public Side opposite() {
        return this == BUY ? SELL : BUY;
    }

    /** +1 for a buy (it adds to a long), -1 for a sell. */
    public long sign() {
        return this == BUY ? 1 : -1;
    }
}
