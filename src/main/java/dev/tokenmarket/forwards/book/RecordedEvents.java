package dev.tokenmarket.forwards.book;

import java.util.ArrayList;
import java.util.List;

/** Keeps a book's events as values, in order: for the engine, which acts on them, and for tests that compare them. */
public final class RecordedEvents implements BookEvents {

    public sealed interface Event {
    }

    public record Rejected(long orderId, long owner, Rejection reason) implements Event {
    }

    public record Rested(long orderId, long owner, Side side, long priceNanoUsd, long openQuantity) implements Event {
    }

    public record Traded(long takerOrderId, long takerOwner, long makerOrderId, long makerOwner, Side takerSide,
                         long priceNanoUsd, long quantity) implements Event {
    }

    public record Cancelled(long orderId, long owner, long openQuantity, CancelReason reason) implements Event {
    }

    public record Amended(long orderId, long owner, long priceNanoUsd, long openQuantity, boolean priorityKept) implements Event {
    }

    private final List<Event> events = new ArrayList<>();

    public List<Event> events() {
        return events;
    }

    public void clear() {
        events.clear();
    }

    @Override
    public void rejected(long orderId, long owner, Rejection reason) {
        events.add(new Rejected(orderId, owner, reason));
    }

    @Override
    public void rested(long orderId, long owner, Side side, long priceNanoUsd, long openQuantity) {
        events.add(new Rested(orderId, owner, side, priceNanoUsd, openQuantity));
    }

    @Override
    public void traded(long takerOrderId, long takerOwner, long makerOrderId, long makerOwner, Side takerSide,
                       long priceNanoUsd, long quantity) {
        events.add(new Traded(takerOrderId, takerOwner, makerOrderId, makerOwner, takerSide, priceNanoUsd, quantity));
    }

    @Override
    public void cancelled(long orderId, long owner, long openQuantity, CancelReason reason) {
        events.add(new Cancelled(orderId, owner, openQuantity, reason));
    }

    @Override
    public void amended(long orderId, long owner, long priceNanoUsd, long openQuantity, boolean priorityKept) {
        events.add(new Amended(orderId, owner, priceNanoUsd, openQuantity, priorityKept));
    }
}
