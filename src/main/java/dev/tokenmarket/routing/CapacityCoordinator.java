package dev.tokenmarket.routing;

import dev.tokenmarket.platform.ProcessRole;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An endpoint's capacity (max_concurrency, tokens_per_minute) for all gateway replicas together, whatever
 * their number, as replicas come and go.
 * <p>
 * Concurrency: an endpoint's max_concurrency is a number of slots leased in PostgreSQL
 * ({@code capacity_leases}). A request takes a slot this replica already leases, without I/O; when all its
 * slots are taken it asks the database for one more, which the database grants only while the live leases of
 * all replicas stay within max_concurrency ({@code lease_capacity_slots}, one statement under the endpoint's
 * advisory lock). Every heartbeat a replica gives back the slots it leases but does not use and renews the rest;
 * a replica that dies stops renewing, and its slots count for nothing once its leases expire. So the requests
 * in flight on an endpoint never exceed its max_concurrency; a slot moves from an idle replica to a busy one
 * within one heartbeat interval, and from a dead one within the lease TTL. A replica uses its leased slots only
 * while it renewed them less than a TTL minus a heartbeat ago, so a replica cut off from the database stops
 * admitting before the others may take its slots; requests it admitted before keep running.
 * <p>
 * Tokens per minute: each replica counts what it served in memory and adds it to the endpoint's shared counter
 * of the minute ({@code capacity_minutes}) every heartbeat, reading back the total of all replicas. A replica
 * sees the others' tokens at most one heartbeat late, so an endpoint can pass its tokens_per_minute by what the
 * other replicas served in the last heartbeat interval, on top of what the requests in flight when the limit is
 * reached still produce (the limit is checked before a request, its tokens counted after it).
 */
@ApplicationScoped
public class CapacityCoordinator {

    private static final Logger LOG = Logger.getLogger(CapacityCoordinator.class);
    /** After the database refused a slot, requests are refused here this long before it is asked again. */
    private static final long REFUSAL_REUSE_NANOS = 50_000_000L;
    /** Minutes of shared token counts kept (only the current one is read). */
    private static final long MINUTES_KEPT = 10;

    @Inject
    AgroalDataSource dataSource;

    /** How often this replica gives back idle slots, renews its leases and shares its token counts. */
    @ConfigProperty(name = "tokenmarket.routing.capacity.heartbeat-interval", defaultValue = "1s")
    Duration heartbeatInterval;

    /** How long a lease counts without renewal: the time a dead replica's slots take to move to the others. */
    @ConfigProperty(name = "tokenmarket.routing.capacity.lease-ttl", defaultValue = "5s")
    Duration leaseTtl;

    /** This process among the replicas: new at every start, so a restarted replica inherits no lease. */
    private final UUID replicaId = UUID.randomUUID();
    /** True for a router that never reads the database (the matching benchmark): capacity is this process's alone. */
    private boolean local;

    /** The slots this replica leases and uses on one endpoint. */
    private static final class Lease {
        final ReentrantLock lock = new ReentrantLock();
        /** Requests this replica runs on the endpoint; raised only under the lock, lowered without it. */
        final AtomicInteger inUse = new AtomicInteger();
        /** Slots the database grants this replica (under the lock). */
        int leased;
        /** Leased slots may be taken until then (under the lock). */
        long usableUntilNanos;
        /** Until then a request finding no free slot is refused without asking the database again. */
        long refusedUntilNanos;
    }

    private record MinuteKey(UUID endpointId, long minute) {
    }

    /**
     * Tokens of the current minute as the database last counted them for all replicas, plus those this
     * replica is adding at the moment (taken from the unflushed counts, not yet in the shared ones).
     */
    private record Counted(long minute, Map<UUID, Long> shared, Map<UUID, Long> flushing) {
    }

    private final Map<UUID, Lease> leases = new ConcurrentHashMap<>();
    private final Map<MinuteKey, AtomicLong> unflushed = new ConcurrentHashMap<>();
    private volatile Counted counted = new Counted(-1, Map.of(), Map.of());
    private volatile long minuteCleaned = -1;

    /** A coordinator for a router that never reads the database: capacity counted in this process only. */
    static CapacityCoordinator local() {
        CapacityCoordinator coordinator = new CapacityCoordinator();
        coordinator.local = true;
        return coordinator;
    }

    /** Takes a concurrency slot on the offer's endpoint; false when all replicas together use them all. */
    public boolean acquire(Offer offer) {
        Lease lease = leases.computeIfAbsent(offer.endpointId(), id -> new Lease());
        int slotsMax = offer.capacityMaxConcurrency();
        lease.lock.lock();
        try {
            int inUse = lease.inUse.get();
            if (inUse >= slotsMax) {
                return false;
            }
            long now = System.nanoTime();
            if (local || inUse < lease.leased && now - lease.usableUntilNanos < 0) {
                lease.inUse.incrementAndGet();
                return true;
            }
            if (now - lease.refusedUntilNanos < 0) {
                return false;
            }
            // One slot at a time: replicas asking together are granted in turn, rather than the first taking all.
            lease.leased = leaseSlots(offer.endpointId(), inUse, inUse + 1, slotsMax);
            lease.usableUntilNanos = now + usableNanos();
            if (inUse < lease.leased) {
                lease.inUse.incrementAndGet();
                return true;
            }
            lease.refusedUntilNanos = now + REFUSAL_REUSE_NANOS;
            return false;
        } finally {
            lease.lock.unlock();
        }
    }

    /** Gives back a slot {@link #acquire} took; it stays leased to this replica until the next heartbeat. */
    public void release(Offer offer) {
        leases.get(offer.endpointId()).inUse.decrementAndGet();
    }

    /** Requests this replica runs on the endpoint now. */
    public int inFlight(UUID endpointId) {
        Lease lease = leases.get(endpointId);
        return lease == null ? 0 : lease.inUse.get();
    }

    /** Tokens served on the endpoint in the current minute by all replicas, as far as this one knows. */
    public long tokensThisMinute(UUID endpointId) {
        long minute = minuteNow();
        Counted c = counted;
        long tokens = 0;
        if (c.minute() == minute) {
            tokens += c.shared().getOrDefault(endpointId, 0L) + c.flushing().getOrDefault(endpointId, 0L);
        }
        AtomicLong mine = unflushed.get(new MinuteKey(endpointId, minute));
        return mine == null ? tokens : tokens + mine.get();
    }

    /** Counts tokens served on the endpoint against its tokens_per_minute. */
    public void addTokens(UUID endpointId, int tokens) {
        long minute = minuteNow();
        unflushed.computeIfAbsent(new MinuteKey(endpointId, minute), k -> new AtomicLong()).addAndGet(tokens);
        if (local && minute != minuteCleaned) {
            minuteCleaned = minute;
            unflushed.keySet().removeIf(k -> k.minute() < minute);
        }
    }

    @Scheduled(every = "${tokenmarket.routing.capacity.heartbeat-interval:1s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP, skipExecutionIf = ProcessRole.NotGateway.class)
    void heartbeat() {
        if (local) {
            return;
        }
        try {
            renewLeases();
        } catch (SQLException | RuntimeException e) {
            LOG.warnf("could not renew capacity leases (%s); this replica admits only on slots it renews", e.getMessage());
        }
        try {
            shareTokens();
        } catch (SQLException | RuntimeException e) {
            LOG.warnf("could not share token counts (%s); they are added at the next heartbeat", e.getMessage());
        }
    }

    /** Gives the idle slots back at once, so that the replicas that stay take them without waiting for a TTL. */
    void stop(@Observes ShutdownEvent event) {
        if (!leases.isEmpty()) {
            heartbeat();
        }
    }

    private long usableNanos() {
        return Math.max(leaseTtl.minus(heartbeatInterval).toNanos(), leaseTtl.toNanos() / 2);
    }

    private static long minuteNow() {
        return System.currentTimeMillis() / 60_000;
    }

    private int leaseSlots(UUID endpointId, int inUse, int wanted, int slotsMax) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select lease_capacity_slots(?, ?, ?, ?, ?, ?)")) {
            ps.setObject(1, endpointId);
            ps.setObject(2, replicaId);
            ps.setInt(3, inUse);
            ps.setInt(4, wanted);
            ps.setInt(5, slotsMax);
            ps.setInt(6, (int) leaseTtl.toMillis());
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getInt(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not lease a capacity slot on endpoint " + endpointId, e);
        }
    }

    /**
     * Lowers every lease to the slots in use and renews them, in one statement. The leases it changes are
     * locked meanwhile (those a request is growing are skipped: the growing request renews them itself).
     */
    private void renewLeases() throws SQLException {
        long startedNanos = System.nanoTime();
        Map<UUID, Lease> locked = new HashMap<>();
        List<UUID> lowered = new ArrayList<>();
        List<Integer> slots = new ArrayList<>();
        try {
            leases.forEach((endpointId, lease) -> {
                if (lease.lock.tryLock()) {
                    locked.put(endpointId, lease);
                    int inUse = lease.inUse.get();
                    if (lease.leased > inUse) {
                        lowered.add(endpointId);
                        slots.add(inUse);
                    }
                }
            });
            Map<UUID, Integer> live = new HashMap<>();
            try (Connection c = dataSource.getConnection();
                 PreparedStatement ps = c.prepareStatement("select endpoint_id, slots from renew_capacity_leases(?, ?, ?, ?)")) {
                ps.setObject(1, replicaId);
                ps.setArray(2, c.createArrayOf("uuid", lowered.toArray()));
                ps.setArray(3, c.createArrayOf("int4", slots.toArray()));
                ps.setInt(4, (int) leaseTtl.toMillis());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        live.put(rs.getObject(1, UUID.class), rs.getInt(2));
                    }
                }
            }
            locked.forEach((endpointId, lease) -> {
                lease.leased = live.getOrDefault(endpointId, 0);
                lease.usableUntilNanos = startedNanos + usableNanos();
            });
        } finally {
            locked.values().forEach(lease -> lease.lock.unlock());
        }
    }

    /** Adds this replica's tokens since the last heartbeat to the shared counts and reads the totals back. */
    private void shareTokens() throws SQLException {
        long minute = minuteNow();
        Map<MinuteKey, Long> taken = new HashMap<>();
        unflushed.forEach((key, tokens) -> {
            long n = tokens.getAndSet(0);
            if (n > 0) {
                taken.put(key, n);
            }
            if (key.minute() < minute) {
                unflushed.remove(key, tokens);
            }
        });
        Map<UUID, Long> flushing = new HashMap<>();
        taken.forEach((key, n) -> {
            if (key.minute() == minute) {
                flushing.put(key.endpointId(), n);
            }
        });
        Counted before = counted;
        counted = new Counted(before.minute(), before.shared(), flushing);
        boolean added = taken.isEmpty();
        try (Connection c = dataSource.getConnection()) {
            if (!added) {
                try (PreparedStatement ps = c.prepareStatement("""
                        insert into capacity_minutes (endpoint_id, minute, tokens)
                        select * from unnest(?::uuid[], ?::bigint[], ?::bigint[])
                        on conflict (endpoint_id, minute) do update set tokens = capacity_minutes.tokens + excluded.tokens""")) {
                    List<MinuteKey> keys = List.copyOf(taken.keySet());
                    ps.setArray(1, c.createArrayOf("uuid", keys.stream().map(MinuteKey::endpointId).toArray()));
                    ps.setArray(2, c.createArrayOf("int8", keys.stream().map(MinuteKey::minute).toArray()));
                    ps.setArray(3, c.createArrayOf("int8", keys.stream().map(taken::get).toArray()));
                    ps.executeUpdate();
                }
                added = true;
            }
            Map<UUID, Long> shared = new HashMap<>();
            try (PreparedStatement ps = c.prepareStatement("select endpoint_id, tokens from capacity_minutes where minute = ?")) {
                ps.setLong(1, minute);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        shared.put(rs.getObject(1, UUID.class), rs.getLong(2));
                    }
                }
            }
            counted = new Counted(minute, Map.copyOf(shared), Map.of());
            if (minute != minuteCleaned) {
                minuteCleaned = minute;
                try (PreparedStatement ps = c.prepareStatement("delete from capacity_minutes where minute < ?")) {
                    ps.setLong(1, minute - MINUTES_KEPT);
                    ps.executeUpdate();
                }
            }
        } catch (SQLException | RuntimeException e) {
            if (!added) {
                // Added at the next heartbeat.
                taken.forEach((key, n) -> unflushed.computeIfAbsent(key, k -> new AtomicLong()).addAndGet(n));
            }
            counted = new Counted(before.minute(), before.shared(), Map.of());
            throw e;
        }
    }
}
