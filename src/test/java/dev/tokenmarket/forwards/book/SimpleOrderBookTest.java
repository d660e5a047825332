package dev.tokenmarket.forwards.book;

/** The order book contract, on the simple book. */
class SimpleOrderBookTest extends OrderBookContractTest {

    @Override
    OrderBook newBook() {
        return new SimpleOrderBook();
    }
}
