package dev.tokenmarket.forwards;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;

/**
 * Who owns each instrument's book: a lease in PostgreSQL, taken when free or expired, renewed while held.
 * Every change of owner raises the fencing token, which each journal write carries and the database checks.
 */
@ApplicationScoped
public class Leases {

    @Inject
    AgroalDataSource dataSource;

    /** The lease's fencing token when {@code owner} now holds it (taken or already its own), else 0. */
    public long acquire(long instrumentId, String owner, Duration ttl) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into forward_leases (instrument_id, owner, token, expires_at)
                     values (?, ?, 1, now() + ? * interval '1 millisecond')
                     on conflict (instrument_id) do update
                         set owner = excluded.owner, expires_at = excluded.expires_at,
                             token = forward_leases.token + case when forward_leases.owner = excluded.owner then 0 else 1 end
                         where forward_leases.owner = excluded.owner or forward_leases.expires_at < now()
                     returning token""")) {
            ps.setLong(1, instrumentId);
            ps.setString(2, owner);
            ps.setLong(3, ttl.toMillis());
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not take the lease of instrument " + instrumentId, e);
        }
    }

    /** Extends the lease held with {@code token}; false when it is no longer held (another process took it). */
    public boolean renew(long instrumentId, long token, Duration ttl) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("update forward_leases set expires_at = now() + ? * interval '1 millisecond'"
                     + " where instrument_id = ? and token = ?")) {
            ps.setLong(1, ttl.toMillis());
            ps.setLong(2, instrumentId);
            ps.setLong(3, token);
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new IllegalStateException("could not renew the lease of instrument " + instrumentId, e);
        }
    }

    /** Gives the lease up at once (a clean stop), so the next owner need not wait for it to expire. */
    public void release(long instrumentId, long token) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("update forward_leases set expires_at = now() - interval '1 second'"
                     + " where instrument_id = ? and token = ?")) {
            ps.setLong(1, instrumentId);
            ps.setLong(2, token);
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not release the lease of instrument " + instrumentId, e);
        }
    }
}
