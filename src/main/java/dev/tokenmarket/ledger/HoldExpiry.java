package dev.tokenmarket.ledger;

import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

/** Releases spot holds whose request never finished (the gateway serving it died), and resting holds past their expiry. */
@ApplicationScoped
public class HoldExpiry {

    private static final Logger LOG = Logger.getLogger(HoldExpiry.class);
    private static final int HOLDS_PER_RUN_MAX = 1_000;

    @Inject
    SpotHolds spotHolds;

    @Inject
    RestingHolds restingHolds;

    @Scheduled(every = "${tokenmarket.ledger.hold-expiry-interval:10s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void expire() {
        int expired = spotHolds.expire(HOLDS_PER_RUN_MAX) + restingHolds.expire(HOLDS_PER_RUN_MAX);
        if (expired > 0) {
            LOG.infof("expired %d holds past their deadline", expired);
        }
    }
}
