package dev.tokenmarket.forwards;

import java.time.Instant;

/** One delivery window of a product, traded on its own book. */
public record Instrument(long id, String symbol, long productId, WindowKind windowKind, Instant deliveryStart,
                         Instant deliveryEnd, Instant tradingStopsAt, State state, Long lastPriceNanoUsd,
                         Long settlementPriceNanoUsd) {

    public enum WindowKind {
        HOUR, DAY;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** listed -> trading <-> halted -> delivering -> settled. */
    public enum State {
        LISTED, TRADING, HALTED, DELIVERING, SETTLED;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        static State fromWire(String value) {
            return valueOf(value.toUpperCase(java.util.Locale.ROOT));
        }
    }
}
