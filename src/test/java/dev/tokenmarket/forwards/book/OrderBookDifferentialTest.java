package dev.tokenmarket.forwards.book;

import dev.tokenmarket.forwards.book.RecordedEvents.Amended;
import dev.tokenmarket.forwards.book.RecordedEvents.Cancelled;
import dev.tokenmarket.forwards.book.RecordedEvents.Event;
import dev.tokenmarket.forwards.book.RecordedEvents.Rejected;
import dev.tokenmarket.forwards.book.RecordedEvents.Rested;
import dev.tokenmarket.forwards.book.RecordedEvents.Traded;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The fast book agrees with the simple book: the same seeded command streams go through both, and every event
 * of every command and, every few thousand commands and at the end, the books' whole states (every resting order
 * in priority order, the depth of both sides, every owner's position) must be equal. The stream must also have
 * reached every rule (each kind of event, rejection and cancel reason, each self-trade prevention mode acting),
 * or the agreement would prove less than it seems.
 */
class OrderBookDifferentialTest {

    static final int COMMANDS = 1_000_000;
    static final int STATE_EVERY = 5_000;

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void shouldAgreeWithTheSimpleBookEventByEventAndInState(long seed) {
        Map<String, Integer> reached = compare(seed, COMMANDS, STATE_EVERY);
        for (String rule : rulesToReach()) {
            assertTrue(reached.getOrDefault(rule, 0) >= 20, "seed " + seed + " reached " + rule + " only "
                    + reached.getOrDefault(rule, 0) + " times: " + reached);
        }
    }

    static String[] rulesToReach() {
        java.util.List<String> rules = new java.util.ArrayList<>(java.util.List.of("traded", "rested", "amended kept priority",
                "amended lost priority", "invalid refused"));
        for (BookEvents.Rejection r : BookEvents.Rejection.values()) {
            rules.add("rejected " + r);
        }
        for (BookEvents.CancelReason r : BookEvents.CancelReason.values()) {
            rules.add("cancelled " + r);
        }
        for (SelfTradePrevention stp : SelfTradePrevention.values()) {
            rules.add("self-trade " + stp);
        }
        for (TimeInForce tif : TimeInForce.values()) {
            rules.add("traded " + tif);
        }
        return rules.toArray(String[]::new);
    }

    /**
     * Runs {@code commands} commands of the seed's stream through both books, failing at the first difference;
     * returns how often each rule was reached.
     */
    static Map<String, Integer> compare(long seed, int commands, int stateEvery) {
        RandomBookCommands stream = new RandomBookCommands(seed);
        OrderBook simple = new SimpleOrderBook();
        OrderBook fast = new FastOrderBook(16);
        RecordedEvents expected = new RecordedEvents();
        RecordedEvents actual = new RecordedEvents();
        Map<String, Integer> reached = new TreeMap<>();
        for (int i = 0; i < commands; i++) {
            BookCommand command = stream.next();
            if (command == null) {
                BookCommand invalid = stream.invalid();
                assertThrows(IllegalArgumentException.class, () -> simple.apply(invalid, expected));
                assertThrows(IllegalArgumentException.class, () -> fast.apply(invalid, actual));
                reached.merge("invalid refused", 1, Integer::sum);
                continue;
            }
            expected.clear();
            actual.clear();
            simple.apply(command, expected);
            fast.apply(command, actual);
            if (!expected.events().equals(actual.events())) {
                fail("seed " + seed + ", command " + i + ": " + command + "\n  simple: " + expected.events() + "\n  fast:   "
                        + actual.events());
            }
            count(command, expected, reached);
            if (i % stateEvery == stateEvery - 1) {
                assertSameState(simple, fast, "seed " + seed + " after command " + i);
            }
        }
        assertSameState(simple, fast, "seed " + seed + " at the end");
        return reached;
    }

    private static void count(BookCommand command, RecordedEvents events, Map<String, Integer> reached) {
        for (Event e : events.events()) {
            String rule = switch (e) {
                case Traded t -> "traded";
                case Rested r -> "rested";
                case Amended a -> a.priorityKept() ? "amended kept priority" : "amended lost priority";
                case Rejected r -> "rejected " + r.reason();
                case Cancelled c -> "cancelled " + c.reason();
            };
            reached.merge(rule, 1, Integer::sum);
            if (command instanceof BookCommand.Place p) {
                if (e instanceof Cancelled c && c.reason() == BookEvents.CancelReason.SELF_TRADE) {
                    reached.merge("self-trade " + p.selfTradePrevention(), 1, Integer::sum);
                }
                if (e instanceof Traded) {
                    reached.merge("traded " + p.timeInForce(), 1, Integer::sum);
                }
            }
        }
    }

    static void assertSameState(OrderBook simple, OrderBook fast, String when) {
        assertEquals(simple.resting(), fast.resting(), "resting orders, " + when);
        for (Side side : Side.values()) {
            assertEquals(simple.depth(side, Integer.MAX_VALUE), fast.depth(side, Integer.MAX_VALUE), side + " depth, " + when);
            assertEquals(simple.depth(side, 3), fast.depth(side, 3), side + " top of the book, " + when);
        }
        for (long owner = 0; owner <= 7; owner++) {
            assertEquals(simple.position(owner), fast.position(owner), "position of " + owner + ", " + when);
        }
        for (OrderBook.RestingOrder o : simple.resting()) {
            assertEquals(o, fast.order(o.orderId()), "order by id, " + when);
        }
    }
}
