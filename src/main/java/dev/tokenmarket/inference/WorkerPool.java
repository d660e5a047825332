package dev.tokenmarket.inference;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads for splitting one step's matrix products, with a hand-off cheap
 * enough (a volatile counter, no queue, no allocation) to pay off on matrices of a few hundred
 * thousand multiply-adds. Workers spin briefly after a task, because the next one usually follows
 * within microseconds during a forward pass, then park so an idle engine costs no CPU.
 *
 * <p>Only one thread (the one owning the {@link Compute}) may call {@link #run} at a time.
 */
final class WorkerPool implements AutoCloseable {

    /** How long an idle worker spins before parking. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

    private final Thread[] workers;
    private final boolean[] parked;
    private final AtomicInteger pending = new AtomicInteger();
    // The current task, published whole so a worker never mixes fields of two tasks.
    private volatile Task task = new Task(0, null, 0, 0);
    private volatile Throwable failure;
    private volatile boolean closed;

    private record Task(long generation, Compute.RangeBody body, int items, int parts) {
    }

    WorkerPool(int workerCount, String name) {
        this.workers = new Thread[workerCount];
        this.parked = new boolean[workerCount];
        for (int w = 0; w < workerCount; w++) {
            int index = w;
            workers[w] = Thread.ofPlatform().name(name + "-" + w).daemon(true).unstarted(() -> work(index));
            workers[w].start();
        }
    }

    /** Splits {@code [0, items)} into {@code parts} ranges; range 0 runs on the calling thread. */
    void run(int items, int parts, Compute.RangeBody body) {
        failure = null;
        pending.set(parts - 1);
        task = new Task(task.generation() + 1, body, items, parts);
        for (int w = 0; w < parts - 1; w++) {
            if (isParked(w)) {
                LockSupport.unpark(workers[w]);
            }
        }
        Throwable own = null;
        try {
            body.run(0, (int) ((long) items / parts), 0);
        } catch (RuntimeException | Error e) {
            own = e;
        }
        while (pending.get() != 0) {
            Thread.onSpinWait();
        }
        Throwable failed = own != null ? own : failure;
        if (failed instanceof RuntimeException e) {
            throw e;
        }
        if (failed instanceof Error e) {
            throw e;
        }
    }

    private synchronized boolean isParked(int worker) {
        return parked[worker];
    }

    private synchronized void setParked(int worker, boolean value) {
        parked[worker] = value;
    }

    private void work(int index) {
        long seen = 0;
        long idleSince = System.nanoTime();
        while (!closed) {
            Task current = task;
            if (current.generation() != seen) {
                seen = current.generation();
                int part = index + 1;
                if (part < current.parts()) {
                    int start = (int) ((long) current.items() * part / current.parts());
                    int end = (int) ((long) current.items() * (part + 1) / current.parts());
                    try {
                        current.body().run(start, end, part);
                    } catch (RuntimeException | Error e) {
                        failure = e;
                    }
                    pending.decrementAndGet();
                }
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
                Thread.onSpinWait();
            } else {
                setParked(index, true);
                // Re-check after announcing: run() either sees the flag and unparks, or we see its new generation.
                if (task.generation() == seen && !closed) {
                    LockSupport.park(this);
                }
                setParked(index, false);
                idleSince = System.nanoTime();
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread worker : workers) {
            LockSupport.unpark(worker);
        }
        for (Thread worker : workers) {
            try {
                worker.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
