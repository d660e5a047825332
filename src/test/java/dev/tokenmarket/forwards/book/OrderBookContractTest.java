package dev.tokenmarket.forwards.book;

import dev.tokenmarket.forwards.book.BookEvents.CancelReason;
import dev.tokenmarket.forwards.book.BookEvents.Rejection;
import dev.tokenmarket.forwards.book.RecordedEvents.Amended;
import dev.tokenmarket.forwards.book.RecordedEvents.Cancelled;
import dev.tokenmarket.forwards.book.RecordedEvents.Event;
import dev.tokenmarket.forwards.book.RecordedEvents.Rejected;
import dev.tokenmarket.forwards.book.RecordedEvents.Rested;
import dev.tokenmarket.forwards.book.RecordedEvents.Traded;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static dev.tokenmarket.forwards.book.Side.BUY;
import static dev.tokenmarket.forwards.book.Side.SELL;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every order book must do, as a user of the market sees it. Abstract: each implementation runs the
 * same suite ({@link SimpleOrderBookTest}, {@link FastOrderBookTest}).
 */
abstract class OrderBookContractTest {

    static final long A = 1, B = 2, C = 3;
    static final long T0 = 1_000_000;

    OrderBook book;
    long nextId;

    abstract OrderBook newBook();

    @BeforeEach
    void freshBook() {
        book = newBook();
        nextId = 1;
    }

    List<Event> run(BookCommand command) {
        RecordedEvents out = new RecordedEvents();
        book.apply(command, out);
        return out.events();
    }

    BookCommand.Place order(long owner, Side side, long price, long quantity, TimeInForce tif) {
        return new BookCommand.Place(nextId++, owner, side, price, quantity, tif, tif == TimeInForce.GTD ? T0 + 60_000 : 0,
                false, false, SelfTradePrevention.CANCEL_INCOMING, T0);
    }

    List<Event> gtc(long owner, Side side, long price, long quantity) {
        return run(order(owner, side, price, quantity, TimeInForce.GTC));
    }

    static BookCommand.Place with(BookCommand.Place p, boolean postOnly, boolean reduceOnly, SelfTradePrevention stp) {
        return new BookCommand.Place(p.orderId(), p.owner(), p.side(), p.priceNanoUsd(), p.quantity(), p.timeInForce(),
                p.expiresAtMillis(), postOnly, reduceOnly, stp, p.atMillis());
    }

    @Test
    void shouldMatchInPriceThenTimePriorityAtTheRestingPriceWithPartialFills() {
        // Proves better prices fill first, equal prices in arrival order, each trade at the maker's price.
        gtc(A, SELL, 102, 5);   // 1
        gtc(B, SELL, 101, 3);   // 2
        gtc(C, SELL, 101, 4);   // 3
        // The third maker is the buyer's own ask: self-trade prevention (cancel the incoming remainder) stops there.
        assertEquals(List.of(new Traded(4, A, 2, B, BUY, 101, 3), new Traded(4, A, 3, C, BUY, 101, 4),
                new Cancelled(4, A, 2, CancelReason.SELF_TRADE)), gtc(A, BUY, 103, 9));
        assertEquals(7, book.position(A));
        assertEquals(-3, book.position(B));
        assertEquals(-4, book.position(C));

        List<Event> partial = gtc(B, BUY, 102, 2); // 5: partially fills the 5 resting at 102
        assertEquals(List.of(new Traded(5, B, 1, A, BUY, 102, 2)), partial);
        assertEquals(3, book.order(1).openQuantity());
        assertEquals(List.of(new OrderBook.Level(102, 3, 1)), book.depth(SELL, 20));
    }

    @Test
    void shouldRestTheRemainderOfAGtcAndCancelTheRemainderOfAnIoc() {
        // Proves GTC rests what did not fill and IOC cancels it.
        gtc(A, SELL, 100, 2);
        assertEquals(List.of(new Traded(2, B, 1, A, BUY, 100, 2), new Rested(2, B, BUY, 100, 3)), gtc(B, BUY, 100, 5));
        gtc(A, BUY, 99, 1);
        assertEquals(List.of(new Traded(4, C, 2, B, SELL, 100, 3), new Traded(4, C, 3, A, SELL, 99, 1),
                new Cancelled(4, C, 6, CancelReason.IOC_REMAINDER)), run(order(C, SELL, 90, 10, TimeInForce.IOC)));
        assertTrue(book.resting().isEmpty());
    }

    @Test
    void shouldFillAFokWhollyOrNotAtAll() {
        // Proves FOK trades only when the book can fill all of it, and then all of it.
        gtc(A, SELL, 100, 2);
        gtc(B, SELL, 101, 2);
        assertEquals(List.of(new Cancelled(3, C, 5, CancelReason.FOK_UNFILLED)), run(order(C, BUY, 101, 5, TimeInForce.FOK)));
        assertEquals(2, book.resting().size(), "a refused FOK changes nothing");
        assertEquals(List.of(new Traded(4, C, 1, A, BUY, 100, 2), new Traded(4, C, 2, B, BUY, 101, 2)),
                run(order(C, BUY, 101, 4, TimeInForce.FOK)));
    }

    @Test
    void shouldNotCountAnOwnOrderTowardsAFokUnlessItWouldBeCancelled() {
        // Proves the FOK check walks the book as matching would, self-trade prevention included.
        gtc(A, SELL, 100, 2);
        gtc(C, SELL, 100, 2);
        assertEquals(List.of(new Cancelled(3, A, 3, CancelReason.FOK_UNFILLED)), run(order(A, BUY, 100, 3, TimeInForce.FOK)));
        BookCommand.Place fok = with(order(C, BUY, 100, 2, TimeInForce.FOK), false, false, SelfTradePrevention.CANCEL_RESTING);
        assertEquals(List.of(new Traded(4, C, 1, A, BUY, 100, 2)), run(fok));
        assertEquals(2, book.order(2).openQuantity(), "the own ask behind the fill was never reached");
    }

    @Test
    void shouldExpireGtdOrdersAndRefuseOnesAlreadyExpired() {
        // Proves GTD rests until its expiry and one placed after its expiry changes nothing.
        run(order(A, BUY, 100, 1, TimeInForce.GTD));
        gtc(A, BUY, 99, 1);
        assertEquals(List.of(), run(new BookCommand.Expire(T0 + 59_999)));
        assertEquals(List.of(new Cancelled(1, A, 1, CancelReason.EXPIRED)), run(new BookCommand.Expire(T0 + 60_000)));
        BookCommand.Place late = new BookCommand.Place(nextId++, A, BUY, 100, 1, TimeInForce.GTD, T0, false, false,
                SelfTradePrevention.CANCEL_INCOMING, T0);
        assertEquals(List.of(new Rejected(3, A, Rejection.EXPIRED)), run(late));
        assertEquals(1, book.resting().size());
    }

    @Test
    void shouldRefuseAPostOnlyOrderThatWouldCross() {
        // Proves post-only never takes: crossing is refused, not crossing rests.
        gtc(A, SELL, 100, 1);
        assertEquals(List.of(new Rejected(2, B, Rejection.WOULD_CROSS)),
                run(with(order(B, BUY, 100, 1, TimeInForce.GTC), true, false, SelfTradePrevention.CANCEL_INCOMING)));
        assertEquals(List.of(new Rested(3, B, BUY, 99, 1)),
                run(with(order(B, BUY, 99, 1, TimeInForce.GTC), true, false, SelfTradePrevention.CANCEL_INCOMING)));
    }

    @Test
    void shouldOnlyLetAReduceOnlyOrderReduceAndTrimItWhenThePositionShrinks() {
        // Proves reduce-only is refused beyond the position and shrinks with it.
        assertEquals(List.of(new Rejected(1, A, Rejection.REDUCE_ONLY_WOULD_INCREASE)),
                run(with(order(A, SELL, 100, 1, TimeInForce.GTC), false, true, SelfTradePrevention.CANCEL_INCOMING)));
        gtc(B, SELL, 100, 5);           // 2
        gtc(A, BUY, 100, 5);            // 3: A long 5
        assertEquals(List.of(new Rested(4, A, SELL, 110, 4)),
                run(with(order(A, SELL, 110, 4, TimeInForce.GTC), false, true, SelfTradePrevention.CANCEL_INCOMING)));
        assertEquals(List.of(new Rejected(5, A, Rejection.REDUCE_ONLY_WOULD_INCREASE)),
                run(with(order(A, SELL, 111, 2, TimeInForce.GTC), false, true, SelfTradePrevention.CANCEL_INCOMING)));
        gtc(C, BUY, 90, 3);             // 6
        // A sells 3 outright: its long is 2, so its resting reduce-only ask shrinks from 4 to 2 (keeping its place).
        assertEquals(List.of(new Traded(7, A, 6, C, SELL, 90, 3), new Amended(4, A, 110, 2, true)), gtc(A, SELL, 90, 3));
        assertEquals(2, book.position(A));
    }

    @Test
    void shouldPreventSelfTradesInEachMode() {
        // Proves the three self-trade prevention modes: cancel incoming (default), cancel resting, cancel both.
        gtc(A, SELL, 100, 1);   // 1
        gtc(B, SELL, 101, 1);   // 2
        assertEquals(List.of(new Cancelled(3, A, 1, CancelReason.SELF_TRADE)), gtc(A, BUY, 101, 1));
        assertEquals(List.of(new Cancelled(1, A, 1, CancelReason.SELF_TRADE), new Traded(4, A, 2, B, BUY, 101, 1)),
                run(with(order(A, BUY, 101, 1, TimeInForce.GTC), false, false, SelfTradePrevention.CANCEL_RESTING)));
        gtc(C, SELL, 100, 1);   // 5
        gtc(B, SELL, 100, 1);   // 6
        assertEquals(List.of(new Cancelled(5, C, 1, CancelReason.SELF_TRADE), new Cancelled(7, C, 2, CancelReason.SELF_TRADE)),
                run(with(order(C, BUY, 100, 2, TimeInForce.GTC), false, false, SelfTradePrevention.CANCEL_BOTH)));
        assertEquals(1, book.order(6).openQuantity(), "B's ask behind C's own was not reached");
    }

    @Test
    void shouldKeepPriorityOnASmallerQuantityAndLoseItOnALargerOneOrANewPrice() {
        // Proves amend priority: reduce keeps the place in the queue, increase or a new price goes to the back.
        gtc(A, SELL, 100, 5);   // 1
        gtc(B, SELL, 100, 5);   // 2
        assertEquals(List.of(new Amended(1, A, 100, 3, true)), run(new BookCommand.Amend(1, A, 100, 3, T0)));
        assertEquals(1, book.resting().getFirst().orderId(), "still first");
        assertEquals(List.of(new Amended(1, A, 100, 6, false), new Rested(1, A, SELL, 100, 6)),
                run(new BookCommand.Amend(1, A, 100, 6, T0)));
        assertEquals(2, book.resting().getFirst().orderId(), "now behind B");
        gtc(C, BUY, 99, 2);     // 3
        assertEquals(List.of(new Amended(1, A, 99, 6, false), new Traded(1, A, 3, C, SELL, 99, 2), new Rested(1, A, SELL, 99, 4)),
                run(new BookCommand.Amend(1, A, 99, 6, T0)), "a new price that crosses trades at once");
        assertEquals(List.of(new Rejected(1, B, Rejection.UNKNOWN_ORDER)), run(new BookCommand.Amend(1, B, 98, 1, T0)),
                "another owner's order is unknown to it");
    }

    @Test
    void shouldRefuseToAmendAPostOnlyOrderAcrossTheBook() {
        // Proves post-only holds for an amendment to a new price.
        gtc(A, SELL, 100, 1);
        run(with(order(B, BUY, 98, 1, TimeInForce.GTC), true, false, SelfTradePrevention.CANCEL_INCOMING));
        assertEquals(List.of(new Rejected(2, B, Rejection.WOULD_CROSS)), run(new BookCommand.Amend(2, B, 100, 1, T0)));
        assertEquals(98, book.order(2).priceNanoUsd());
    }

    @Test
    void shouldCancelOneAllOfAnOwnerOrEverythingWhenTradingStops() {
        // Proves cancel one, cancel all of one owner and the trading stop, each reporting what was left open.
        gtc(A, BUY, 90, 1);
        gtc(A, SELL, 110, 2);
        gtc(B, BUY, 91, 3);
        gtc(A, BUY, 89, 4);
        assertEquals(List.of(new Cancelled(2, A, 2, CancelReason.USER)), run(new BookCommand.Cancel(2, A)));
        assertEquals(List.of(new Rejected(2, A, Rejection.UNKNOWN_ORDER)), run(new BookCommand.Cancel(2, A)));
        assertEquals(List.of(new Rejected(3, A, Rejection.UNKNOWN_ORDER)), run(new BookCommand.Cancel(3, A)));
        assertEquals(List.of(new Cancelled(1, A, 1, CancelReason.USER), new Cancelled(4, A, 4, CancelReason.USER)),
                run(new BookCommand.CancelAll(A)));
        assertEquals(List.of(new Cancelled(3, B, 3, CancelReason.TRADING_STOPPED)), run(new BookCommand.StopTrading()));
        assertNull(book.order(3));
        assertTrue(book.depth(BUY, 20).isEmpty());
    }

    @Test
    void shouldNeverLeaveTheBookCrossedAndKeepLongsEqualToShortsUnderRandomFlow() {
        // Proves, over a seeded random flow of every command, that the book never rests crossed, every trade is
        // within both limits, quantities are conserved, and longs equal shorts.
        Random random = new Random(26);
        long[] owners = {A, B, C, 4, 5};
        for (int i = 0; i < 20_000; i++) {
            long owner = owners[random.nextInt(owners.length)];
            int kind = random.nextInt(10);
            BookCommand command;
            if (kind < 6) {
                TimeInForce tif = TimeInForce.values()[random.nextInt(4)];
                Side side = random.nextBoolean() ? BUY : SELL;
                command = new BookCommand.Place(nextId++, owner, side, 95 + random.nextInt(11), 1 + random.nextInt(9), tif,
                        tif == TimeInForce.GTD ? T0 + i + random.nextInt(500) : 0, random.nextInt(8) == 0,
                        random.nextInt(8) == 0, SelfTradePrevention.values()[random.nextInt(3)], T0 + i);
            } else if (kind < 8) {
                command = new BookCommand.Cancel(1 + random.nextInt((int) nextId), owner);
            } else if (kind < 9) {
                command = new BookCommand.Amend(1 + random.nextInt((int) nextId), owner, 95 + random.nextInt(11), 1 + random.nextInt(9), T0 + i);
            } else {
                command = new BookCommand.Expire(T0 + i);
            }
            for (Event e : run(command)) {
                if (e instanceof Traded t && command instanceof BookCommand.Place p) {
                    assertTrue(p.side() == BUY ? t.priceNanoUsd() <= p.priceNanoUsd() : t.priceNanoUsd() >= p.priceNanoUsd(), t.toString());
                }
            }
            List<OrderBook.Level> bids = book.depth(BUY, 1);
            List<OrderBook.Level> asks = book.depth(SELL, 1);
            if (!bids.isEmpty() && !asks.isEmpty()) {
                assertTrue(bids.getFirst().priceNanoUsd() < asks.getFirst().priceNanoUsd(), "crossed after " + command);
            }
            long net = 0;
            for (long o : owners) {
                net += book.position(o);
            }
            assertEquals(0, net, "longs equal shorts");
        }
    }
}
