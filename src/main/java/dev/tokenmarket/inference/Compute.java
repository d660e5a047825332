package dev.tokenmarket.inference;

/**
 * Kernels plus an optional small fixed pool of worker threads. Work is split over output rows
 * (or attention heads) only when it is big enough to pay for the hand-off; splitting never
 * changes results because every output element is computed whole by one thread.
 */
final class Compute implements AutoCloseable {

    /** Below this many multiply-adds a matrix product runs on the calling thread. */
    static final long PARALLEL_WORK_MIN = 1L << 16;
    /** Upper bound on worker threads, whatever the caller asks for. */
    static final int THREADS_MAX = 256;

    @FunctionalInterface
    interface RangeBody {
        /** Processes items {@code [start, end)} using scratch slot {@code worker} (0 <= worker < threads). */
        void run(int start, int end, int worker);
    }

    private final Kernels kernels;
    private final int threads;
    private final WorkerPool pool;

    Compute(Kernels kernels, int threads) {
        if (threads < 1 || threads > THREADS_MAX) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "threads is " + threads + ", must be between 1 and " + THREADS_MAX);
        }
        this.kernels = kernels;
        this.threads = threads;
        this.pool = threads == 1 ? null : new WorkerPool(threads - 1, "inference-worker");
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
        pool.run(items, parts, body);
    }

    /** Whether work of this many multiply-adds should be spread over the pool. */
    boolean worthParallel(long work) {
        return pool != null && work >= PARALLEL_WORK_MIN;
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.close();
        }
    }
}
