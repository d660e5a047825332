package dev.tokenmarket.platform.embedded;

import io.zonky.test.db.postgres.util.LinuxUtils;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a start does with a {@code postmaster.pid} it finds: a postgres an earlier run left on the same data
 * directory is stopped cleanly and the data kept; a stale file is PostgreSQL's to replace; a live server on
 * another directory is never touched.
 */
class EmbeddedPostgresServerTest {

    @TempDir
    Path directory;

    private final List<Long> startedByHand = new ArrayList<>();

    @AfterEach
    void stopWhatTheTestStartedByHand() {
        startedByHand.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy));
    }

    @Test
    void startStopsAServerAnEarlierRunLeftOnItsDataDirectoryAndKeepsItsData() throws Exception {
        // Proves the start after a crash needs no hand work: the left-over server is stopped, not its lock file deleted; a stale file is PostgreSQL's to replace.
        Path data = directory.resolve("postgres");
        Path pgCtl;
        try (EmbeddedPostgresServer first = EmbeddedPostgresServer.start(data, 0)) {
            execute(first, "create table kept (v int); insert into kept values (42)");
            pgCtl = Postmaster.runningOn(data).orElseThrow().executable().resolveSibling("pg_ctl");
        }
        // What a JVM killed together with its watchdog leaves: a postgres that nothing will stop.
        long leftOver = startByHand(pgCtl, data);

        try (EmbeddedPostgresServer second = EmbeddedPostgresServer.start(data, 0)) {
            assertFalse(ProcessHandle.of(leftOver).map(ProcessHandle::isAlive).orElse(false), "the left-over server was stopped");
            assertEquals(42, queryInt(second, "select v from kept"), "what the left-over server held is kept");
        }

        // A stale file (its process is dead) is PostgreSQL's to replace, as without us.
        Files.writeString(data.resolve(Postmaster.PID_FILE), deadPid() + "\n" + data + "\n");
        try (EmbeddedPostgresServer third = EmbeddedPostgresServer.start(data, 0)) {
            assertEquals(42, queryInt(third, "select v from kept"), "PostgreSQL replaced the stale file and started");
        }
    }

    @Test
    void aLiveServerOnAnotherDirectoryIsNeverTouched() throws Exception {
        // Proves only a postgres running on the directory itself is stopped: a pid file naming another directory's server is refused, and that server left alone.
        Path mine = Files.createDirectories(directory.resolve("mine"));
        Path theirs = directory.resolve("theirs");
        try (EmbeddedPostgresServer other = EmbeddedPostgresServer.start(theirs, 0)) {
            long theirPid = Postmaster.runningOn(theirs).orElseThrow().pid();
            Files.copy(theirs.resolve(Postmaster.PID_FILE), mine.resolve(Postmaster.PID_FILE));
            IOException refused = assertThrows(IOException.class, () -> EmbeddedPostgresServer.start(mine, 0).close(),
                    "no start over a live process that is not this directory's server");
            assertTrue(refused.getMessage().contains("names process " + theirPid), refused.getMessage());
            assertTrue(Files.exists(mine.resolve(Postmaster.PID_FILE)), "the file naming a live process is kept");
            assertTrue(ProcessHandle.of(theirPid).map(ProcessHandle::isAlive).orElse(false), "the other server still runs");
            assertEquals(1, queryInt(other, "select 1"), "and still answers");
        }
    }

    /** Starts a postgres on {@code data} with pg_ctl, the way zonky does, and answers its pid. */
    private long startByHand(Path pgCtl, Path data) throws Exception {
        List<String> command = new ArrayList<>();
        if (LinuxUtils.isUnshareAvailable()) {
            command.addAll(List.of("unshare", "-U"));
        }
        command.addAll(List.of(pgCtl.toString(), "start", "-D", data.toString(), "-w", "-o", "-p " + freePort() + " -F"));
        Process pgCtlStart = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertEquals(0, pgCtlStart.waitFor(), "pg_ctl start");
        long pid = Postmaster.runningOn(data).orElseThrow().pid();
        startedByHand.add(pid);
        return pid;
    }

    /** A pid no process has: one that just ended. */
    private static long deadPid() throws Exception {
        Process ended = new ProcessBuilder("true").start();
        ended.waitFor();
        return ended.pid();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static void execute(EmbeddedPostgresServer server, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(server.jdbcUrl(), EmbeddedPostgresServer.USER, "postgres");
             Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    private static int queryInt(EmbeddedPostgresServer server, String sql) throws Exception {
        try (Connection c = DriverManager.getConnection(server.jdbcUrl(), EmbeddedPostgresServer.USER, "postgres");
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
