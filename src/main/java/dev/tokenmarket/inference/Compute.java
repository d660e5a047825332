package dev.tokenmarket.inference;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Kernels plus an optional small fixed pool of worker threads. Work is split over output rows
 * (or attention heads) only when it is big enough to pay for the hand-off; splitting never
 * changes results because every output element is computed whole by one thread.
 */
final class Compute implements AutoCloseable {

    /** Below this many multiply-adds a matrix product runs on the calling thread. */
    static final long PARALLEL_WORK_MIN = 1L << 19;
    /** Upper bound on worker threads, whatever the caller asks for. */
    static final int THREADS_MAX = 256;

    @FunctionalInterface
    interface RangeBody {
        /** Processes items {@code [start, end)} using scratch slot {@code worker} (0 <= worker < threads). */
        void run(int start, int end, int worker);
    }

    private final Kernels kernels;
    private final int threads;
    private final ForkJoinPool pool;

    Compute(Kernels kernels, int threads) {
        if (threads < 1 || threads > THREADS_MAX) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "threads is " + threads + ", must be between 1 and " + THREADS_MAX);
        }
        this.kernels = kernels;
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads - 1, pool -> {
            var thread = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
            thread.setName("inference-worker-" + thread.getPoolIndex());
            thread.setDaemon(true);
            return thread;
        }, null, false);
    }

    Kernels kernels() {
        return kernels;
    }

    int threads() {
        return threads;
    }

    /** {@code out (batch, rows) = x (batch, cols) * W^T}. */
    void matmul(WeightMatrix w, float[] x, int batch, float[] out) {
        long work = (long) w.rows() * w.cols() * batch;
        if (pool == null || work < PARALLEL_WORK_MIN || w.rows() < threads * 4) {
            w.multiply(kernels, x, batch, out, 0, w.rows());
            return;
        }
        parallelFor(w.rows(), (start, end, worker) -> w.multiply(kernels, x, batch, out, start, end));
    }

    /** Runs {@code body} over {@code [0, items)} split into one contiguous range per thread. */
    void parallelFor(int items, RangeBody body) {
        int parts = pool == null ? 1 : Math.min(threads, items);
        if (parts <= 1) {
            body.run(0, items, 0);
            return;
        }
        ForkJoinTask<?>[] tasks = new ForkJoinTask<?>[parts - 1];
        for (int p = 1; p < parts; p++) {
            int start = (int) ((long) items * p / parts);
            int end = (int) ((long) items * (p + 1) / parts);
            int worker = p;
            tasks[p - 1] = pool.submit(() -> body.run(start, end, worker));
        }
        body.run(0, (int) ((long) items / parts), 0);
        for (ForkJoinTask<?> task : tasks) {
            task.join();
        }
    }

    /** Whether work of this many multiply-adds should be spread over the pool. */
    boolean worthParallel(long work) {
        return pool != null && work >= PARALLEL_WORK_MIN;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdownNow();
        }
    }
}
