package dev.tokenmarket.ledger;

/** A broken ledger invariant: a bug, never an expected business failure. */
public final class LedgerInvariantViolation extends IllegalStateException {
    public LedgerInvariantViolation(String message) {
        super(message);
    }
}
