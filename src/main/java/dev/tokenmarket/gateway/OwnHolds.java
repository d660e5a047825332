package dev.tokenmarket.gateway;

import dev.tokenmarket.ledger.SpotHolds;
import dev.tokenmarket.platform.TimeOrderedIds;

import java.time.Duration;
import java.time.Instant;
import java.util.UUID;

/** Every request places a hold of its own, in the group commit it shares with other requests' writes. */
final class OwnHolds implements Holding {

    private final SpotWrites writes;
    private final SpotHolds spotHolds;
    private final Duration holdTtl;

    OwnHolds(SpotWrites writes, SpotHolds spotHolds, Duration holdTtl) {
        this.writes = writes;
        this.spotHolds = spotHolds;
        this.holdTtl = holdTtl;
    }

    @Override
    public UUID hold(long wallet, long amountNanoUsd, UUID generationId) {
        // Time-ordered, so the holds settled together sit together in the table and its primary key.
        UUID holdId = TimeOrderedIds.next();
        boolean placed = writes.placeHold(new SpotHolds.Draft(holdId, wallet, amountNanoUsd,
                "generation " + GenerationIds.format(generationId), Instant.now().plus(holdTtl)));
        return placed ? holdId : null;
    }

    @Override
    public void release(UUID holdId) {
        spotHolds.release(holdId);
    }
}
