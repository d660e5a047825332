package dev.tokenmarket.ledger;

/** Where a hold is in its life; the database (holds_status_check) knows the same list and the moves allowed. */
public enum HoldStatus implements Wired {
    /** A spot hold placed for a request being served: voided when it produced nothing, expired after its TTL. */
    PENDING("pending", true),
    /** A spot hold whose usage is recorded: it no longer expires, and settlement captures it once. */
    SETTLING("settling", true),
    /** A hold backing a resting order: captured in parts, reduced, extended, until its owner voids it. */
    RESTING("resting", true),
    CAPTURED("captured", false),
    /** Released by its owner: what it still held is available again. */
    VOIDED("voided", false),
    /** Released because its expiry passed. */
    EXPIRED("expired", false);

    private final String wire;
    private final boolean open;

    HoldStatus(String wire, boolean open) {
        this.wire = wire;
        this.open = open;
    }

    @Override
    public String wire() {
        return wire;
    }

    /** Whether the hold still holds money (its remainder counts in its account's held amount). */
    public boolean open() {
        return open;
    }

    public static HoldStatus ofWire(String wire) {
        return Wired.ofWire(values(), wire);
    }
}
