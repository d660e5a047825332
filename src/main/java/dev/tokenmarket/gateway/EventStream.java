package dev.tokenmarket.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One server-sent-event response. The generating thread and the keep-alive timer both write, so every
 * write holds the lock. A write that fails means the client is gone: {@link #open()} turns false and
 * the generation is cancelled by its token sink.
 */
final class EventStream implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);

    private final OutputStream out;
    private final long keepAliveNanos;
    private final ScheduledFuture<?> keepAlive;
    private long lastWriteNanos = System.nanoTime();
    private volatile boolean open = true;
    private final AtomicBoolean keepAliveWriting = new AtomicBoolean();

    EventStream(OutputStream out, ScheduledExecutorService timer, long keepAliveMillis) {
        this.out = out;
        this.keepAliveNanos = TimeUnit.MILLISECONDS.toNanos(keepAliveMillis);
        // The shared timer only starts the write: a client that stops reading blocks its own keep-alive
        // writer (a virtual thread, at most one per stream), never the timer that serves every stream.
        this.keepAlive = timer.scheduleAtFixedRate(() -> {
            if (keepAliveWriting.compareAndSet(false, true)) {
                Thread.startVirtualThread(() -> {
                    try {
                        keepAlive();
                    } finally {
                        keepAliveWriting.set(false);
                    }
                });
            }
        }, keepAliveMillis, keepAliveMillis, TimeUnit.MILLISECONDS);
    }

    boolean open() {
        return open;
    }

    /** Sends {@code data: <json>}; false when the client is gone. */
    boolean data(Object payload) {
        try {
            return write(("data: " + JSON.writeValueAsString(payload) + "\n\n").getBytes(StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("could not serialise a stream chunk", e);
        }
    }

    boolean done() {
        return write("data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** A comment line while nothing else was sent for a while, so proxies and clients keep the connection. */
    private void keepAlive() {
        synchronized (this) {
            if (open && System.nanoTime() - lastWriteNanos >= keepAliveNanos) {
                write(KEEP_ALIVE);
            }
        }
    }

    private synchronized boolean write(byte[] bytes) {
        if (!open) {
            return false;
        }
        try {
            out.write(bytes);
            out.flush();
            lastWriteNanos = System.nanoTime();
            return true;
        } catch (IOException | RuntimeException e) {
            open = false;
            return false;
        }
    }

    @Override
    public void close() {
        keepAlive.cancel(false);
    }
}
