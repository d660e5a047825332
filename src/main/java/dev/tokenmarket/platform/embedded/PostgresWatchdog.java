package dev.tokenmarket.platform.embedded;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Stops the embedded PostgreSQL when this JVM dies, however it dies: SIGKILL and the OOM killer run no
 * shutdown hook, and pg_ctl starts the postmaster in a session of its own, so nothing else would stop it
 * and the next start would find its {@code postmaster.pid} still locked.
 *
 * <p>The watchdog is a small shell process whose standard input is a pipe that only this JVM holds (a child
 * process inherits no descriptor but 0, 1 and 2). It reads that pipe until end of file, which the kernel
 * delivers the moment the JVM is gone, with no polling and no pid that could be reused meanwhile. It then
 * runs {@code pg_ctl stop -m fast}, but only while {@code postmaster.pid} still names the server it
 * guards: a new server that a later start put on the same directory is not its business. It ignores the
 * signals a terminal or an operator sends to the JVM's process group, and runs in a session of its own
 * when {@code setsid} is there, so that killing the whole group does not take it down first.
 */
final class PostgresWatchdog implements AutoCloseable {

    private static final String SCRIPT = """
            trap '' HUP INT QUIT TERM PIPE
            while read -r _; do :; done
            [ -f "$2/postmaster.pid" ] || exit 0
            read -r pid < "$2/postmaster.pid" || exit 0
            [ "$pid" = "$1" ] || exit 0
            echo "tokenmarket: the JVM that ran PostgreSQL (pid $1) on $2 is gone; stopping it" >&2
            shift 2
            exec "$@"
            """;

    private final Process process;
    private final OutputStream lifeline;

    private PostgresWatchdog(Process process) {
        this.process = process;
        this.lifeline = process.getOutputStream();
    }

    /** Starts the watchdog of {@code postmaster}; it acts once this JVM is gone or {@link #close()} is called. */
    static PostgresWatchdog start(Postmaster postmaster) throws IOException {
        List<String> command = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
            command.add("/usr/bin/setsid");
        }
        command.addAll(List.of("/bin/sh", "-c", SCRIPT, "tokenmarket-postgres-watchdog",
                Long.toString(postmaster.pid()), postmaster.dataDirectory().toString()));
        command.addAll(postmaster.stopCommand());
        // Its output and pg_ctl's go where this JVM's go: the operator's terminal or log.
        Process process = new ProcessBuilder(command)
                .redirectOutput(ProcessBuilder.Redirect.INHERIT)
                .redirectError(ProcessBuilder.Redirect.INHERIT)
                .start();
        return new PostgresWatchdog(process);
    }

    long pid() {
        return process.pid();
    }

    /**
     * Ends the watchdog's wait, as the JVM's death would: called after the server was stopped, the watchdog
     * finds no {@code postmaster.pid} and exits; if the stop failed, it stops the server itself.
     */
    @Override
    public void close() throws IOException {
        lifeline.close();
    }
}
