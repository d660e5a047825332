package dev.tokenmarket.gateway;

import dev.tokenmarket.platform.OneRoundTrip;
import org.jboss.logging.Logger;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Group commit: the per-request writes of concurrent requests run in one shared transaction and one
 * commit (one WAL flush) instead of one each. A single writer thread takes whatever has queued while the
 * previous commit was flushing, up to {@code batchSizeMax}, so batches grow with load and a lone request
 * waits for nobody. Each request still gets its own answer; when a batch fails as a whole (a deadlock, a
 * broken connection) its items are retried one transaction each, so one bad item cannot fail the others.
 *
 * <p>A batch's commands go to the database as one statement on a connection in autocommit mode
 * ({@link OneRoundTrip}): PostgreSQL runs them as one implicit transaction and commits it before it answers,
 * so a batch costs one round trip, commit included.
 *
 * @param <T> one request's write
 * @param <R> its answer
 */
final class GroupCommit<T, R> implements AutoCloseable {

    /** Plans the writing of a batch: its commands, and how to answer each item once they ran. */
    @FunctionalInterface
    interface Writer<T, R> {
        Batch<R> plan(List<T> items);
    }

    /** A batch's commands, and its answers (one per item, in order), to read once the commands ran. */
    record Batch<R>(List<OneRoundTrip.Command> commands, Supplier<List<R>> answers) {
    }

    private record Pending<T, R>(T item, CompletableFuture<R> answer) {
    }

    private static final Logger LOG = Logger.getLogger(GroupCommit.class);
    private static final int QUEUE_LENGTH_MAX = 16_384;

    private final DataSource dataSource;
    private final Writer<T, R> writer;
    private final Runnable afterCommit;
    private final int batchSizeMax;
    private final BlockingQueue<Pending<T, R>> queue = new ArrayBlockingQueue<>(QUEUE_LENGTH_MAX);
    private final Thread thread;
    private volatile boolean running = true;

    GroupCommit(String name, DataSource dataSource, int batchSizeMax, Writer<T, R> writer, Runnable afterCommit) {
        this.dataSource = dataSource;
        this.writer = writer;
        this.afterCommit = afterCommit;
        this.batchSizeMax = batchSizeMax;
        this.thread = Thread.ofPlatform().name(name).daemon().start(this::run);
    }

    /** Writes {@code item} in the next batch and waits for its commit; rethrows what the write threw. */
    R submit(T item) {
        Pending<T, R> pending = new Pending<>(item, new CompletableFuture<>());
        try {
            if (!queue.offer(pending, 5, TimeUnit.SECONDS)) {
                throw new IllegalStateException("group commit queue full for 5 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while queueing a write", e);
        }
        try {
            return pending.answer().join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw e;
        }
    }

    /**
     * Queues {@code item} for the next batch without waiting for it: the answer completes on the writer thread
     * once the batch committed (keep what depends on it short), or fails at once when the queue is full.
     */
    CompletableFuture<R> submitLater(T item) {
        Pending<T, R> pending = new Pending<>(item, new CompletableFuture<>());
        if (!queue.offer(pending)) {
            pending.answer().completeExceptionally(new IllegalStateException("group commit queue full"));
        }
        return pending.answer();
    }

    private void run() {
        List<Pending<T, R>> batch = new ArrayList<>(batchSizeMax);
        while (running) {
            try {
                Pending<T, R> first = queue.poll(100, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                queue.drainTo(batch, batchSizeMax - 1);
                if (!commit(batch) && batch.size() > 1) {
                    for (Pending<T, R> single : batch) {
                        commit(List.of(single));
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (RuntimeException e) {
                LOG.error("group commit failed unexpectedly", e);
                batch.forEach(p -> p.answer().completeExceptionally(e));
            } finally {
                batch.clear();
            }
        }
    }

    /** One transaction for the batch; false when it failed and was rolled back (single items fail their caller). */
    private boolean commit(List<Pending<T, R>> batch) {
        List<T> items = new ArrayList<>(batch.size());
        batch.forEach(p -> items.add(p.item()));
        List<R> results;
        try (Connection c = dataSource.getConnection()) {
            // Each statement commits on its own: the batch is one statement, so it commits whole or not at all.
            c.setAutoCommit(true);
            Batch<R> planned = writer.plan(items);
            OneRoundTrip.run(c, planned.commands());
            results = planned.answers().get();
            if (results.size() != items.size()) {
                throw new IllegalStateException("writer answered " + results.size() + " results for " + items.size() + " items");
            }
        } catch (SQLException | RuntimeException e) {
            if (batch.size() == 1) {
                batch.getFirst().answer().completeExceptionally(e instanceof RuntimeException r ? r
                        : new IllegalStateException("write failed: " + e.getMessage(), e));
            } else {
                LOG.debugf("batch of %d failed (%s); retrying one by one", batch.size(), e.getMessage());
            }
            return false;
        }
        afterCommit.run();
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).answer().complete(results.get(i));
        }
        return true;
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
    }
}
