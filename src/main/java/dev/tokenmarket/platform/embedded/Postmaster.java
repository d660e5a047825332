package dev.tokenmarket.platform.embedded;

import io.zonky.test.db.postgres.util.LinuxUtils;
import org.jboss.logging.Logger;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A PostgreSQL server found through the {@code postmaster.pid} of its data directory, and the
 * {@code pg_ctl} next to its executable (the binaries zonky unpacked) to stop it.
 */
record Postmaster(long pid, Path dataDirectory, Path executable) {

    private static final Logger LOG = Logger.getLogger(Postmaster.class);
    static final String PID_FILE = "postmaster.pid";
    /** How long a fast stop may take: it ends the sessions and writes a shutdown checkpoint. */
    static final int STOP_WAIT_SECONDS_MAX = 60;

    /**
     * The live process that the {@code postmaster.pid} of {@code dataDirectory} names. Empty when there is no
     * such file or its process is dead: PostgreSQL itself replaces a stale file as it starts.
     */
    static OptionalLong livePid(Path dataDirectory) throws IOException {
        List<String> lines;
        try {
            lines = Files.readAllLines(dataDirectory.resolve(PID_FILE), StandardCharsets.UTF_8);
        } catch (NoSuchFileException none) {
            return OptionalLong.empty();
        }
        long pid;
        try {
            pid = lines.isEmpty() ? 0 : Long.parseLong(lines.getFirst().strip());
        } catch (NumberFormatException unreadable) {
            return OptionalLong.empty();
        }
        return pid > 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)
                ? OptionalLong.of(pid) : OptionalLong.empty();
    }

    /**
     * The server that runs on {@code dataDirectory}: its {@code postmaster.pid} names a live process whose
     * executable is {@code postgres} and whose working directory (a postmaster works in its data directory)
     * is {@code dataDirectory}. Empty when the file names no live process, or one that is not provably a
     * postgres on this directory (another directory's server, a reused pid, a process of a user we may not
     * inspect).
     */
    static Optional<Postmaster> runningOn(Path dataDirectory) throws IOException {
        OptionalLong pid = livePid(dataDirectory);
        if (pid.isEmpty()) {
            return Optional.empty();
        }
        Path proc = Path.of("/proc", Long.toString(pid.getAsLong()));
        try {
            Path executable = Files.readSymbolicLink(proc.resolve("exe"));
            Path workingDirectory = Files.readSymbolicLink(proc.resolve("cwd"));
            if (!executable.getFileName().toString().equals("postgres")
                    || !workingDirectory.equals(dataDirectory.toRealPath())) {
                return Optional.empty();
            }
            return Optional.of(new Postmaster(pid.getAsLong(), dataDirectory, executable));
        } catch (IOException notInspectable) {
            return Optional.empty();
        }
    }

    /**
     * {@code pg_ctl stop -m fast} on this server's data directory, run the way zonky runs its own commands
     * (through {@code unshare -U} when running as root, since PostgreSQL refuses root).
     */
    List<String> stopCommand() {
        List<String> command = new ArrayList<>();
        if (LinuxUtils.isUnshareAvailable()) {
            command.addAll(List.of("unshare", "-U"));
        }
        command.addAll(List.of(executable.resolveSibling("pg_ctl").toString(), "stop", "-D", dataDirectory.toString(),
                "-m", "fast", "-w", "-t", Integer.toString(STOP_WAIT_SECONDS_MAX)));
        return command;
    }

    /** Stops the server with {@link #stopCommand()} and waits until its process is gone. */
    void stop() throws IOException {
        Process pgCtl = new ProcessBuilder(stopCommand()).redirectErrorStream(true).start();
        try (BufferedReader output = new BufferedReader(new InputStreamReader(pgCtl.getInputStream(), StandardCharsets.UTF_8))) {
            output.lines().forEach(line -> LOG.infof("pg_ctl: %s", line));
        }
        try {
            int exit = pgCtl.waitFor();
            Optional<ProcessHandle> server = ProcessHandle.of(pid);
            if (server.isPresent()) {
                server.get().onExit().get(STOP_WAIT_SECONDS_MAX, TimeUnit.SECONDS);
            }
            if (exit != 0) {
                LOG.warnf("pg_ctl stop ended with %d, but PostgreSQL (pid %d) is gone", exit, pid);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while stopping PostgreSQL (pid " + pid + ")", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new IOException("PostgreSQL (pid " + pid + ") on " + dataDirectory + " did not stop within "
                    + STOP_WAIT_SECONDS_MAX + " s of pg_ctl stop -m fast; stop it, then start again", e);
        }
    }
}
