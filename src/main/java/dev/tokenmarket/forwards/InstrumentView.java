package dev.tokenmarket.forwards;

import dev.tokenmarket.platform.Money;

import java.time.Instant;

/** An instrument as {@code GET /api/forwards/instruments} shows it; prices in USD per contract. */
public record InstrumentView(String symbol, String product, String model, String window, Instant deliveryStart,
                             Instant deliveryEnd, Instant tradingStopsAt, String settlementType, String state,
                             String tick, long lot, String lastPrice, String settlementPrice) {

    static InstrumentView of(Instrument i, Product p) {
        return new InstrumentView(i.symbol(), p.code(), p.model(), i.windowKind().wireName(), i.deliveryStart(),
                i.deliveryEnd(), i.tradingStopsAt(), "physical", i.state().wireName(), Money.formatUsd(p.tickNanoUsd()),
                p.lotContracts(), i.lastPriceNanoUsd() == null ? null : Money.formatUsd(i.lastPriceNanoUsd()),
                i.settlementPriceNanoUsd() == null ? null : Money.formatUsd(i.settlementPriceNanoUsd()));
    }
}
