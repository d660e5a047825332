package dev.tokenmarket.forwards.book;

/** The order book contract, on the fast book, started small so that every structure of it grows during the suite. */
class FastOrderBookTest extends OrderBookContractTest {

    @Override
    OrderBook newBook() {
        return new FastOrderBook(4);
    }
}
