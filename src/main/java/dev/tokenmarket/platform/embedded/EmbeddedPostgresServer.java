package dev.tokenmarket.platform.embedded;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * A real PostgreSQL server (the zonky binaries, PostgreSQL 17) whose cluster lives in a directory we choose,
 * so a restart finds every ledger entry where it was left.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {

    public static final String DATABASE_NAME = "tokenmarket";
    public static final String USER = "postgres";

    private final EmbeddedPostgres postgres;

    private EmbeddedPostgresServer(EmbeddedPostgres postgres) {
        this.postgres = postgres;
    }

    /** Starts (or restarts) the cluster in {@code dataDirectory}; port 0 picks a free port. */
    public static EmbeddedPostgresServer start(Path dataDirectory, int port) throws IOException {
        Files.createDirectories(dataDirectory);
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
        EmbeddedPostgresServer server = new EmbeddedPostgresServer(builder.start());
        server.createDatabaseIfMissing();
        return server;
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
        postgres.close();
    }
}
