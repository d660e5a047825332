package dev.tokenmarket.platform;

import java.util.Locale;

/**
 * What one process of the marketplace does, chosen by {@code tokenmarket.role} ({@code TOKENMARKET_ROLE}); one
 * image runs in every role. Which role runs each background job:
 * <ul>
 *   <li>gateway: the public HTTP API (routing, holds, metering), the outbox relay, the catalog snapshot each
 *       replica refreshes for itself, the shared capacity leases and counters, key last-use flushes;</li>
 *   <li>settlement: the ledger consumers (Kafka spreads the usage partitions over every settlement process),
 *       hold expiry, the spot index publisher (one process at a time, by a PostgreSQL advisory lock);</li>
 *   <li>all: both, in one process: what {@code ./tokenmarket start} runs on a laptop.</li>
 * </ul>
 * Every job is safe with several processes of its role: the relay takes its batches under a lock in
 * PostgreSQL (no row goes out twice side by side, and a row sent again after a crash settles once, by the
 * ledger's idempotency on the event id), hold expiry takes holds with {@code for update skip locked}, Kafka
 * gives each usage partition to one consumer at a time, the index publisher runs where it holds its advisory
 * lock, and capacity is leased in PostgreSQL.
 */
public enum Role {
    GATEWAY, SETTLEMENT, ALL;

    public static final String PROPERTY = "tokenmarket.role";
    public static final String ENVIRONMENT_VARIABLE = "TOKENMARKET_ROLE";

    /** Whether this role serves the public HTTP API and runs the jobs that go with it. */
    public boolean servesGateway() {
        return this != SETTLEMENT;
    }

    /** Whether this role settles usage and runs the ledger's jobs. */
    public boolean settles() {
        return this != GATEWAY;
    }

    /** The role named {@code value} (any case); a clear error for anything else. */
    public static Role parse(String value) {
        if (value == null || value.isBlank()) {
            return ALL;
        }
        try {
            return valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(PROPERTY + " (" + ENVIRONMENT_VARIABLE + ") is '" + value
                    + "'; it must be gateway, settlement or all.");
        }
    }

    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
