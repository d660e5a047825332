package dev.tokenmarket.platform;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Runs a job in one process at a time however many processes of its role run: the one that holds the job's
 * PostgreSQL advisory lock. The lock belongs to a database session, so a process that dies mid-run (its
 * connection closed) frees it at once; the others skip the run rather than wait for it.
 */
@ApplicationScoped
public class ClusterExclusive {

    @Inject
    AgroalDataSource dataSource;

    /** Runs {@code job} unless another process runs the job named {@code jobName} now; answers whether it ran. */
    public boolean runAlone(String jobName, Runnable job) {
        try (Connection c = dataSource.getConnection()) {
            if (!lock(c, "select pg_try_advisory_lock(hashtextextended(?, 0))", jobName)) {
                return false;
            }
            try {
                job.run();
                return true;
            } finally {
                lock(c, "select pg_advisory_unlock(hashtextextended(?, 0))", jobName);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not take the lock of job " + jobName, e);
        }
    }

    private static boolean lock(Connection c, String sql, String jobName) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, "tokenmarket job " + jobName);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() && rs.getBoolean(1);
            }
        }
    }
}
