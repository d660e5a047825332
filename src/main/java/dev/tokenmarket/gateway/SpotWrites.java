package dev.tokenmarket.gateway;

import dev.tokenmarket.ledger.SpotHolds;
import dev.tokenmarket.metering.InsertGenerations;
import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageOutbox;
import dev.tokenmarket.platform.OneRoundTrip;
import io.agroal.api.AgroalDataSource;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The spot flow's database writes, group-committed ({@link GroupCommit}): holds to place, and finished
 * requests' meterings (the generation row, the hold's move to "settling", the key's actual use and the usage
 * event). Each request still waits for its own durable commit, but many requests share one. Every command
 * comes from the context that owns its rows, and a group's commands go as one statement ({@link OneRoundTrip}).
 */
@ApplicationScoped
class SpotWrites {

    private static final Logger LOG = Logger.getLogger(SpotWrites.class);
    /** Writes of concurrent requests share a transaction up to this many. */
    private static final int GROUP_COMMIT_BATCH_MAX = 256;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    UsageOutbox outbox;

    /** One request's write in the shared group commit: a hold to place, or a finished request's metering. */
    private sealed interface Write permits HoldPlacement, Metering {
    }

    private record HoldPlacement(SpotHolds.Draft draft) implements Write {
    }

    /** A finished request: its generation row, and what its key's limits reserved against what it used. */
    /** @param traceParent the request's {@link dev.tokenmarket.platform.TraceParents#current() traceparent}, or null */
    record Metering(InsertGenerations.Row generation, KeyLimits.Admission admission, int tokens, String traceParent) implements Write {
    }

    // Holds and meterings share one writer: at a few hundred requests per second a group holds only a
    // request or two, and one transaction for both kinds halves the commits (and WAL flushes) per request.
    private GroupCommit<Write, Boolean> writes;

    @PostConstruct
    void start() {
        writes = new GroupCommit<>("spot-group-commit", dataSource, GROUP_COMMIT_BATCH_MAX, SpotWrites::plan, outbox::committed);
    }

    @PreDestroy
    void stop() {
        writes.close();
    }

    /** Places the hold in the next group commit and waits for it; false when its wallet cannot cover it. */
    boolean placeHold(SpotHolds.Draft draft) {
        return writes.submit(new HoldPlacement(draft));
    }

    /** Queues the hold for the next group commit without waiting; the answer completes once it committed. */
    CompletableFuture<Boolean> placeHoldLater(SpotHolds.Draft draft) {
        return writes.submitLater(new HoldPlacement(draft));
    }

    /** Writes a finished request's metering in the next group commit and waits for its commit. */
    void meter(Metering metering) {
        writes.submit(metering);
    }

    /**
     * A group's holds (each answered false when its wallet cannot cover it), then its meterings (answered
     * true), as one statement: one round trip and one transaction, commit included.
     */
    private static GroupCommit.Batch<Boolean> plan(List<Write> group) {
        List<SpotHolds.Draft> holds = new ArrayList<>(group.size());
        List<Metering> meterings = new ArrayList<>(group.size());
        for (Write w : group) {
            switch (w) {
                case HoldPlacement h -> holds.add(h.draft());
                case Metering m -> meterings.add(m);
            }
        }
        List<OneRoundTrip.Command> commands = new ArrayList<>();
        SpotHolds.PlaceCommand placing = new SpotHolds.PlaceCommand(holds);
        if (!holds.isEmpty()) {
            commands.add(placing);
        }
        List<UsageEvent> events = meterings.stream().map(m -> m.generation().event()).toList();
        OneRoundTrip.UuidsAnswered settling = SpotHolds.markSettlingCommand(events.stream().map(UsageEvent::holdId).toList());
        if (!meterings.isEmpty()) {
            commands.add(new InsertGenerations(meterings.stream().map(Metering::generation).toList()));
            commands.add(settling);
            commands.addAll(KeyLimits.corrections(meterings.stream()
                    .map(m -> new KeyLimits.Correction(m.admission(), m.tokens(), m.generation().event().costNanoUsd())).toList()));
            commands.add(new UsageOutbox.InsertEvents(events, meterings.stream().map(Metering::traceParent).toList()));
        }
        return new GroupCommit.Batch<>(commands, () -> {
            for (UsageEvent e : events) {
                if (!settling.answered().contains(e.holdId())) {
                    // Only a hold that outlived its TTL gets here; the usage is still recorded and settled.
                    LOG.warnf("hold %s of generation %s was no longer pending when metered", e.holdId(), e.eventId());
                }
            }
            List<Boolean> answers = new ArrayList<>(group.size());
            int hold = 0;
            for (Write w : group) {
                answers.add(w instanceof HoldPlacement ? placing.placed()[hold++] : Boolean.TRUE);
            }
            return answers;
        });
    }
}
