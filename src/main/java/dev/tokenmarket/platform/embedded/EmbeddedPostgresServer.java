package dev.tokenmarket.platform.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * A real PostgreSQL server (the zonky binaries, PostgreSQL 17) whose cluster lives in a directory we choose,
 * so a restart finds every ledger entry where it was left. A watchdog stops it when this JVM dies, and a
 * start first stops a server that an earlier run left on the same directory.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedPostgresServer.class);
    public static final String DATABASE_NAME = "tokenmarket";
    public static final String USER = "postgres";
    /** zonky's lock on a data directory, held by the process whose EmbeddedPostgres runs on it. */
    private static final String OWNER_LOCK_FILE = "epg-lock";

    private final EmbeddedPostgres postgres;
    private final PostgresWatchdog watchdog;

    private EmbeddedPostgresServer(EmbeddedPostgres postgres, PostgresWatchdog watchdog) {
        this.postgres = postgres;
        this.watchdog = watchdog;
    }

    /** Starts (or restarts) the cluster in {@code dataDirectory}; port 0 picks a free port. */
    public static EmbeddedPostgresServer start(Path dataDirectory, int port) throws IOException {
        Files.createDirectories(dataDirectory);
        stopLeftOverServer(dataDirectory);
        EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
                .setDataDirectory(dataDirectory)
                .setCleanDataDirectory(false)
                .setPGStartupWait(Duration.ofSeconds(60))
                // Stopped by the owner, in order, after the application; zonky's own hook would race it.
                .setRegisterShutdownHook(false)
                // zonky turns synchronous_commit off by default; a money ledger must not lose a
                // committed entry on a crash, so durability is put back to PostgreSQL's default.
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("fsync", "on")
                .setServerConfig("max_connections", "200")
                // The ledger's indexes outgrow PostgreSQL's 128 MB default cache after about a million
                // entries, and every checkpoint makes the next write to each page log the whole page:
                // a cache and checkpoint spacing sized for a write-heavy ledger (durability unchanged).
                .setServerConfig("shared_buffers", "512MB")
                .setServerConfig("max_wal_size", "4GB")
                .setServerConfig("checkpoint_timeout", "15min");
        if (port > 0) {
            builder.setPort(port);
        }
        EmbeddedPostgres postgres = builder.start();
        try {
            Postmaster postmaster = Postmaster.runningOn(dataDirectory).orElseThrow(() -> new IOException(
                    "PostgreSQL started on " + dataDirectory + " but its postmaster.pid names no running postgres"));
            EmbeddedPostgresServer server = new EmbeddedPostgresServer(postgres, PostgresWatchdog.start(postmaster));
            server.createDatabaseIfMissing();
            return server;
        } catch (IOException | RuntimeException e) {
            postgres.close();
            throw e;
        }
    }

    /**
     * A server still running on {@code dataDirectory} is one an earlier run left behind (its JVM and its
     * watchdog were both killed, or the JVM died while the server was starting, before its watchdog): no live
     * process holds the directory's lock. It is stopped cleanly, so that its last commits are kept, before a new one starts. Its
     * {@code postmaster.pid} is never deleted: two postmasters on one data directory corrupt it.
     */
    private static void stopLeftOverServer(Path dataDirectory) throws IOException {
        if (!Files.exists(dataDirectory.resolve(Postmaster.PID_FILE))) {
            // No server, and no file of ours either: initdb wants a new cluster's directory empty.
            return;
        }
        try (FileChannel channel = FileChannel.open(dataDirectory.resolve(OWNER_LOCK_FILE),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException heldHere) {
                lock = null;
            }
            if (lock == null) {
                throw new IOException("PostgreSQL on " + dataDirectory + " belongs to another running process (it holds "
                        + OWNER_LOCK_FILE + "); stop that process, or give this one another TOKENMARKET_DATA_DIR");
            }
            try {
                OptionalLong named = Postmaster.livePid(dataDirectory);
                if (named.isEmpty()) {
                    // A stale file: PostgreSQL replaces it as it starts.
                    return;
                }
                Optional<Postmaster> leftOver = Postmaster.runningOn(dataDirectory);
                if (leftOver.isEmpty()) {
                    // PostgreSQL would refuse too, but only after the whole startup wait, and less plainly.
                    throw new IOException(dataDirectory.resolve(Postmaster.PID_FILE) + " names process " + named.getAsLong()
                            + ", which is not a PostgreSQL server on this directory (a server on another directory,"
                            + " a reused pid, or another user's process), so PostgreSQL will not start over it. Find out"
                            + " what that process is; remove the file only once no postgres runs on " + dataDirectory);
                }
                LOG.warnf("PostgreSQL (pid %d) from an earlier run still runs on %s; stopping it (pg_ctl stop -m fast)",
                        leftOver.get().pid(), dataDirectory);
                leftOver.get().stop();
            } finally {
                // zonky takes the same lock as it starts the server.
                lock.release();
            }
        }
    }

    private void createDatabaseIfMissing() throws IOException {
        try (Connection connection = postgres.getPostgresDatabase().getConnection();
             Statement statement = connection.createStatement()) {
            try (ResultSet rs = statement.executeQuery(
                    "select 1 from pg_database where datname = '" + DATABASE_NAME + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            statement.execute("create database " + DATABASE_NAME);
        } catch (SQLException e) {
            throw new IOException("could not create database " + DATABASE_NAME + ": " + e.getMessage(), e);
        }
    }

    public int port() {
        return postgres.getPort();
    }

    public String jdbcUrl() {
        return "jdbc:postgresql://localhost:" + port() + "/" + DATABASE_NAME;
    }

    @Override
    public void close() throws IOException {
        try {
            postgres.close();
        } finally {
            watchdog.close();
        }
    }
}
