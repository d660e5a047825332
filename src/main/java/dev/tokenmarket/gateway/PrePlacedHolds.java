package dev.tokenmarket.gateway;

import dev.tokenmarket.ledger.SpotHolds;
import dev.tokenmarket.platform.TimeOrderedIds;
import org.jboss.logging.Logger;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Holds placed ahead of demand for busy wallets, so that their requests find a hold already placed instead of
 * each waiting for a commit (1.5-1.7 ms of an unloaded request on the development machine).
 *
 * <p>A pre-placed hold is an ordinary pending hold of the ledger, of a power-of-two size in nano-USD. A request
 * whose maximum cost fits a size takes one of that size whole, and from then on it is that request's hold: its
 * metering moves it to settling, its settlement captures the cost and releases the rest, a failure voids it.
 * So the money rules stand unchanged: every request is served against a placed hold at least as large as its
 * maximum cost, and requests together can never spend more than the wallet has. What changes is what the buyer
 * sees as held while a wallet is busy: up to 1/16 of its available balance per gateway replica more.
 *
 * <p>Which wallets: a (wallet, size) pair asked for {@value #BUSY_REQUESTS_PER_SECOND} times within a second is
 * busy; its shelf then keeps {@value #READY_MIN} holds ready, one more each time a request finds it empty (up
 * to {@value #READY_MAX}), restocked in lots once half is gone, so that one call places a lot. A placement is
 * made only if the wallet keeps {@value #KEEP_AVAILABLE_MULTIPLE} times what this replica has pre-placed for it
 * available once placed, so the wallet's own requests, here or on another replica, keep its balance; a refused
 * placement leaves the pair alone for a second. A request refused for want of balance gets the wallet's ready
 * holds back first ({@link #giveBackAll}). A shelf not asked for a second gives its holds back (voided); so
 * does a hold older than a minute, or a quarter of the hold TTL (it would leave its request too little of it).
 */
final class PrePlacedHolds implements Holding, AutoCloseable {

    private static final Logger LOG = Logger.getLogger(PrePlacedHolds.class);
    private static final int BUSY_REQUESTS_PER_SECOND = 20;
    private static final int READY_MIN = 8;
    private static final int READY_MAX = 32;
    private static final long KEEP_AVAILABLE_MULTIPLE = 15;
    /** Larger requests (above about 1,100 USD) always get a hold of their own. */
    private static final long SIZE_MAX_NANO_USD = 1L << 40;
    private static final long SECOND_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long IDLE_NANOS = SECOND_NANOS;
    private static final long SWEEP_MILLIS = 250;

    private record ShelfKey(long wallet, long size) {
    }

    private record Ready(UUID holdId, long placedAtNanos) {
    }

    /** The ready holds of one wallet and size; guarded by its own monitor. */
    private static final class Shelf {
        final ShelfKey key;
        final ArrayDeque<Ready> ready = new ArrayDeque<>();
        int placing;
        int target;
        long windowStartNanos;
        int askedInWindow;
        long lastAskedNanos;
        long restUntilNanos;
        boolean removed;

        Shelf(ShelfKey key) {
            this.key = key;
        }
    }

    private final Map<ShelfKey, Shelf> shelves = new ConcurrentHashMap<>();
    // What this replica has pre-placed (ready or being placed) per wallet. Entries stay once created: one per
    // wallet that was ever busy here, and dropping them safely would need a lock on the hot path.
    private final Map<Long, AtomicLong> preplacedByWallet = new ConcurrentHashMap<>();
    private final Queue<UUID> tooOldToHandOut = new ConcurrentLinkedQueue<>();
    private final Holding own;
    private final Function<SpotHolds.Draft, CompletableFuture<Boolean>> placer;
    private final Consumer<UUID> voider;
    private final Duration holdTtl;
    private final long ageMaxNanos;
    private final String reference;
    private final ScheduledExecutorService sweeper;
    private volatile boolean closed;

    /**
     * @param own    how a request without a ready hold gets one, and how a request's hold is given back
     * @param placer places a hold later (in a group commit) and answers whether it was placed
     * @param voider voids a pending hold now
     */
    PrePlacedHolds(Holding own, Function<SpotHolds.Draft, CompletableFuture<Boolean>> placer, Consumer<UUID> voider,
                   Duration holdTtl) {
        this.own = own;
        this.placer = placer;
        this.voider = voider;
        this.holdTtl = holdTtl;
        this.ageMaxNanos = Math.min(TimeUnit.MINUTES.toNanos(1), holdTtl.toNanos() / 4);
        this.reference = "placed ahead for this wallet's next request by gateway " + replicaName();
        this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("pre-placed-holds").daemon().factory());
        sweeper.scheduleWithFixedDelay(() -> {
            try {
                sweep();
            } catch (RuntimeException e) {
                // A scheduled task that throws is never run again: log, and sweep on the next round.
                LOG.error("sweeping the pre-placed holds failed", e);
            }
        }, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Which gateway placed a hold that outlived it: host and process. */
    private static String replicaName() {
        String process = "pid " + ProcessHandle.current().pid();
        try {
            return InetAddress.getLocalHost().getHostName() + " " + process;
        } catch (UnknownHostException e) {
            return process;
        }
    }

    /** The size of the pre-placed holds that cover {@code amount}: the smallest power of two at least as large. */
    private static long sizeFor(long amountNanoUsd) {
        return amountNanoUsd <= 1 ? 1 : Long.highestOneBit(amountNanoUsd - 1) << 1;
    }

    /**
     * A ready pre-placed hold when the wallet's shelf has one; else the request's own. Holds this replica
     * pre-placed on the wallet must not be what refuses it: when its own is refused, they are given back and
     * it tries once more.
     */
    @Override
    public UUID hold(long wallet, long amountNanoUsd, UUID generationId) {
        UUID ready = take(wallet, amountNanoUsd);
        if (ready != null) {
            return ready;
        }
        UUID placed = own.hold(wallet, amountNanoUsd, generationId);
        if (placed == null && giveBackAll(wallet) > 0) {
            placed = own.hold(wallet, amountNanoUsd, generationId);
        }
        return placed;
    }

    @Override
    public void release(UUID holdId) {
        own.release(holdId);
    }

    /**
     * The id of a pre-placed hold of at least {@code needNanoUsd} on {@code wallet}, now the caller's; null when
     * none is ready (the caller places its own). Either way counts as demand, which keeps the shelf stocked.
     */
    UUID take(long wallet, long needNanoUsd) {
        if (closed || needNanoUsd <= 0 || needNanoUsd > SIZE_MAX_NANO_USD) {
            return null;
        }
        ShelfKey key = new ShelfKey(wallet, sizeFor(needNanoUsd));
        while (true) {
            Shelf shelf = shelves.computeIfAbsent(key, Shelf::new);
            long now = System.nanoTime();
            Ready taken;
            int toPlace;
            List<UUID> tooOld = new ArrayList<>(0);
            synchronized (shelf) {
                if (shelf.removed) {
                    continue;
                }
                shelf.lastAskedNanos = now;
                if (now - shelf.windowStartNanos >= SECOND_NANOS) {
                    shelf.windowStartNanos = now;
                    shelf.askedInWindow = 0;
                }
                shelf.askedInWindow++;
                taken = shelf.ready.pollFirst();
                while (taken != null && now - taken.placedAtNanos() >= ageMaxNanos) {
                    tooOld.add(taken.holdId());
                    taken = shelf.ready.pollFirst();
                }
                boolean resting = now - shelf.restUntilNanos < 0;
                if (!resting && shelf.askedInWindow >= BUSY_REQUESTS_PER_SECOND) {
                    shelf.target = Math.min(Math.max(shelf.target + (taken == null ? 1 : 0), READY_MIN), READY_MAX);
                }
                // Restocked in lots, once half is gone: queued together, a lot's holds are placed by one call.
                int stocked = shelf.ready.size() + shelf.placing;
                toPlace = resting || stocked > shelf.target / 2 ? 0 : shelf.target - stocked;
                shelf.placing += toPlace;
            }
            int givenUp = tooOld.size() + (taken == null ? 0 : 1);
            if (givenUp > 0) {
                preplaced(wallet).addAndGet(-key.size() * givenUp);
            }
            // Voided by the sweeper, off the request's path.
            tooOld.forEach(tooOldToHandOut::add);
            for (int i = 0; i < toPlace; i++) {
                place(shelf);
            }
            return taken == null ? null : taken.holdId();
        }
    }

    /**
     * Voids every ready hold this replica pre-placed on {@code wallet}, now, and leaves the wallet alone for a
     * second: a request refused for want of balance retries once they are back. Answers how many it voided.
     */
    int giveBackAll(long wallet) {
        List<UUID> voided = new ArrayList<>();
        long now = System.nanoTime();
        for (Shelf shelf : shelves.values()) {
            if (shelf.key.wallet() != wallet) {
                continue;
            }
            synchronized (shelf) {
                voided.addAll(removeReady(shelf, r -> true));
                shelf.target = 0;
                shelf.restUntilNanos = now + SECOND_NANOS;
            }
        }
        voided.forEach(this::giveBack);
        return voided.size();
    }

    /** Takes the ready holds {@code which} selects off {@code shelf}, whose monitor the caller holds. */
    private List<UUID> removeReady(Shelf shelf, Predicate<Ready> which) {
        List<UUID> removed = new ArrayList<>();
        for (Iterator<Ready> it = shelf.ready.iterator(); it.hasNext(); ) {
            Ready r = it.next();
            if (which.test(r)) {
                it.remove();
                removed.add(r.holdId());
            }
        }
        if (!removed.isEmpty()) {
            preplaced(shelf.key.wallet()).addAndGet(-shelf.key.size() * removed.size());
        }
        return removed;
    }

    private void giveBackTooOld() {
        for (UUID holdId; (holdId = tooOldToHandOut.poll()) != null; ) {
            giveBack(holdId);
        }
    }

    private AtomicLong preplaced(long wallet) {
        return preplacedByWallet.computeIfAbsent(wallet, w -> new AtomicLong());
    }

    private void place(Shelf shelf) {
        UUID holdId = TimeOrderedIds.next();
        long wallet = shelf.key.wallet();
        long size = shelf.key.size();
        long preplacedAfter = preplaced(wallet).addAndGet(size);
        SpotHolds.Draft draft = new SpotHolds.Draft(holdId, wallet, size, reference, Instant.now().plus(holdTtl),
                KEEP_AVAILABLE_MULTIPLE * preplacedAfter);
        placer.apply(draft).whenComplete((placed, failure) -> landed(shelf, holdId, Boolean.TRUE.equals(placed), failure));
    }

    /** Runs on the group commit's thread: files the placed hold, or gives it up. */
    private void landed(Shelf shelf, UUID holdId, boolean placed, Throwable failure) {
        boolean shelved = false;
        synchronized (shelf) {
            shelf.placing--;
            if (placed && !closed) {
                shelf.ready.addLast(new Ready(holdId, System.nanoTime()));
                shelved = true;
            } else if (!placed) {
                shelf.target = 0;
                shelf.restUntilNanos = System.nanoTime() + SECOND_NANOS;
            }
        }
        if (shelved) {
            return;
        }
        preplaced(shelf.key.wallet()).addAndGet(-shelf.key.size());
        if (failure != null) {
            LOG.warnf("could not pre-place a hold on wallet %d: %s", shelf.key.wallet(), failure.getMessage());
        } else if (placed) {
            // Closed meanwhile: the sweeper is gone, and this is the last moment to give it back.
            giveBack(holdId);
        }
    }

    /** Gives back the holds of shelves no longer asked for and those too old to hand out. */
    private void sweep() {
        giveBackTooOld();
        long now = System.nanoTime();
        for (Shelf shelf : shelves.values()) {
            List<UUID> voided;
            synchronized (shelf) {
                boolean idle = now - shelf.lastAskedNanos >= IDLE_NANOS;
                voided = removeReady(shelf, r -> idle || now - r.placedAtNanos() >= ageMaxNanos);
                if (idle) {
                    shelf.target = 0;
                    if (shelf.placing == 0) {
                        shelf.removed = true;
                        shelves.remove(shelf.key, shelf);
                    }
                }
            }
            voided.forEach(this::giveBack);
        }
    }

    private void giveBack(UUID holdId) {
        try {
            voider.accept(holdId);
        } catch (RuntimeException e) {
            // It stays held until it expires, like the hold of a request whose gateway died.
            LOG.warnf("could not void pre-placed hold %s (it will expire): %s", holdId, e.getMessage());
        }
    }

    /** Stops pre-placing and voids the ready holds; holds still being placed are voided as they land. */
    @Override
    public void close() {
        closed = true;
        sweeper.shutdown();
        for (Shelf shelf : shelves.values()) {
            List<UUID> ready;
            synchronized (shelf) {
                ready = removeReady(shelf, r -> true);
            }
            ready.forEach(this::giveBack);
        }
        giveBackTooOld();
    }
}
