package dev.tokenmarket.forwards.book;

/** Which book an instrument's writer keeps: both behave alike, event for event (the differential test proves it). */
public enum BookImplementation {
    /** {@link FastOrderBook}: no allocation per order, for the flow of a busy instrument. */
    FAST,
    /** {@link SimpleOrderBook}: the obviously correct one, the reference the fast one is held to. */
    SIMPLE;

    public OrderBook newBook() {
        return this == FAST ? new FastOrderBook() : new SimpleOrderBook();
    }
}
