package dev.tokenmarket.gateway;

import java.util.UUID;

/**
 * Stage 3 of the spot flow: a request's maximum cost reserved on the buyer's wallet, so that concurrent
 * requests can never spend more than the wallet has, and given back whole when the request fails before it
 * is metered (metering moves it on to settlement). Two strategies: {@link OwnHolds}, a hold per request; and
 * {@link PrePlacedHolds}, busy wallets' requests taking holds placed ahead of them. {@link HoldingStrategy}
 * picks one from {@code tokenmarket.gateway.pre-placed-holds.enabled}.
 */
interface Holding {

    /**
     * A pending hold on {@code wallet} of at least {@code amountNanoUsd} for the request {@code generationId},
     * now the request's own; null when the wallet cannot cover it.
     */
    UUID hold(long wallet, long amountNanoUsd, UUID generationId);

    /** Gives a request's hold back whole: the request ends without being metered. */
    void release(UUID holdId);
}
