package dev.tokenmarket.inference;

/**
 * How a {@link ReferenceEngine} uses the machine.
 *
 * @param threads          compute threads for one step (the scheduler thread plus workers); 1 disables the pool
 * @param sequencesMax     sequences stepped together; further requests wait their turn
 * @param rowsPerStepMax   tokens (rows) processed in one step; bounds prompt chunks and scratch memory
 * @param waitingMax       requests allowed to wait for a free sequence slot before new ones are refused
 */
public record EngineOptions(int threads, int sequencesMax, int rowsPerStepMax, int waitingMax) {

    public static final int SEQUENCES_LIMIT = 1_024;
    public static final int ROWS_PER_STEP_LIMIT = 8_192;
    public static final int WAITING_LIMIT = 100_000;

    public EngineOptions {
        require("threads", threads, 1, Compute.THREADS_MAX);
        require("sequencesMax", sequencesMax, 1, SEQUENCES_LIMIT);
        require("rowsPerStepMax", rowsPerStepMax, sequencesMax, ROWS_PER_STEP_LIMIT);
        require("waitingMax", waitingMax, 0, WAITING_LIMIT);
    }

    /**
     * All cores, up to 64 concurrent sequences, 128-row steps (so a long prompt stalls running streams
     * for one short step at a time), 4096 waiting requests.
     */
    public static EngineOptions defaults() {
        return new EngineOptions(Runtime.getRuntime().availableProcessors(), 64, 128, 4_096);
    }

    private static void require(String field, int value, int min, int max) {
        if (value < min || value > max) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "engine option " + field + " is " + value + ", must be between " + min + " and " + max);
        }
    }
}
