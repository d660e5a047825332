package dev.tokenmarket.gateway;

import dev.tokenmarket.ledger.SpotHolds;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.time.Duration;

/** Chooses how the spot flow holds: a hold per request, or pre-placed holds for busy wallets (the default). */
@ApplicationScoped
class HoldingStrategy {

    /** Busy wallets' requests take holds placed ahead of them ({@link PrePlacedHolds}); false: each places its own. */
    @ConfigProperty(name = "tokenmarket.gateway.pre-placed-holds.enabled", defaultValue = "true")
    boolean prePlaced;

    /** A hold not settled or voided within this time expires (the gateway that placed it died). */
    @ConfigProperty(name = "tokenmarket.gateway.hold-ttl", defaultValue = "PT15M")
    Duration holdTtl;

    @Produces
    @ApplicationScoped
    Holding holding(SpotWrites writes, SpotHolds spotHolds) {
        OwnHolds own = new OwnHolds(writes, spotHolds, holdTtl);
        // Pre-placed holds ride in the same group commits as the requests' own writes.
        return prePlaced ? new PrePlacedHolds(own, writes::placeHoldLater, spotHolds::release, holdTtl) : own;
    }

    void close(@Disposes Holding holding) {
        if (holding instanceof PrePlacedHolds preplaced) {
            preplaced.close();
        }
    }
}
