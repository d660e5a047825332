package dev.tokenmarket.identity;

import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Keeps each key's last-used time without a database write per request: a request only notes the time
 * in memory (to the second), and every {@code tokenmarket.identity.last-used-flush-interval} one statement
 * writes what this replica noted since, for all keys at once. So {@code last_used_at} in the database lags
 * by at most that interval and a second, which is its documented resolution; listings on the replica that
 * served the request show it at once.
 */
@ApplicationScoped
public class LastUsedRecorder {

    private static final Logger LOG = Logger.getLogger(LastUsedRecorder.class);
    /** A use this soon after the one noted for the key is not noted again. */
    private static final long NOTE_GRANULARITY_MILLIS = 1_000;
    /** Keys written per statement; a flush of more runs several statements. */
    private static final int FLUSH_BATCH_SIZE_MAX = 5_000;

    /** Epoch milliseconds of the latest use of each key since the last flush. */
    private final Map<UUID, Long> pending = new ConcurrentHashMap<>();

    @Inject
    AgroalDataSource dataSource;

    void used(UUID keyId) {
        long now = System.currentTimeMillis();
        // A read most of the time: many threads serving one busy key would otherwise queue on one map entry.
        Long noted = pending.get(keyId);
        if (noted == null || now - noted >= NOTE_GRANULARITY_MILLIS) {
            pending.put(keyId, now);
        }
    }

    /** The use noted here and not yet written, or null. */
    Instant pendingUse(UUID keyId) {
        Long millis = pending.get(keyId);
        return millis == null ? null : Instant.ofEpochMilli(millis);
    }

    @Scheduled(every = "${tokenmarket.identity.last-used-flush-interval:30s}",
            concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void flush() {
        List<Map.Entry<UUID, Long>> batch = new ArrayList<>();
        for (Map.Entry<UUID, Long> entry : pending.entrySet()) {
            batch.add(Map.entry(entry.getKey(), entry.getValue()));
            if (batch.size() == FLUSH_BATCH_SIZE_MAX) {
                write(batch);
                batch.clear();
            }
        }
        if (!batch.isEmpty()) {
            write(batch);
        }
    }

    void onShutdown(@Observes ShutdownEvent event) {
        flush();
    }

    private void write(List<Map.Entry<UUID, Long>> batch) {
        UUID[] ids = new UUID[batch.size()];
        Long[] millis = new Long[batch.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = batch.get(i).getKey();
            millis[i] = batch.get(i).getValue();
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     update api_keys k set last_used_at = u.used_at
                     from (select id, timestamptz 'epoch' + millis * interval '1 millisecond' as used_at
                           from unnest(?::uuid[], ?::bigint[]) as n (id, millis)) as u
                     where k.id = u.id and (k.last_used_at is null or k.last_used_at < u.used_at)""")) {
            ps.setArray(1, c.createArrayOf("uuid", ids));
            ps.setArray(2, c.createArrayOf("bigint", millis));
            ps.executeUpdate();
        } catch (SQLException e) {
            // Kept in memory and tried again at the next flush: a last-used time is worth no failed request.
            LOG.warnf("could not write the last-used time of %d keys: %s", ids.length, e.getMessage());
            return;
        }
        // A use noted while the statement ran stays for the next flush.
        for (Map.Entry<UUID, Long> written : batch) {
            pending.remove(written.getKey(), written.getValue());
        }
    }
}
