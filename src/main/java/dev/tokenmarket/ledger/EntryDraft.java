package dev.tokenmarket.ledger;

import java.util.List;
import java.util.UUID;

/**
 * A journal entry about to be written. The id is chosen by the client and doubles as the idempotency key;
 * {@code requestSha256} is the digest of the request that produced it, so a retry with other content is
 * told apart from a true retry.
 */
public record EntryDraft(UUID id, EntryCode code, String description, String metadataJson, byte[] requestSha256,
                         List<Posting> postings, UUID reversesEntryId) {

    public static final int POSTINGS_MAX = 64;

    /** Debits equal credits, checked before every write; the database checks it again. */
    public void checkBalanced() {
        if (postings.size() < 2 || postings.size() > POSTINGS_MAX) {
            throw new LedgerInvariantViolation("entry " + id + " has " + postings.size() + " postings; 2 to " + POSTINGS_MAX + " allowed");
        }
        long sum = 0;
        for (Posting p : postings) {
            sum = Math.addExact(sum, p.amountNanoUsd());
        }
        if (sum != 0) {
            throw new LedgerInvariantViolation("entry " + id + " is off balance by " + sum + " nano-USD");
        }
    }
}
