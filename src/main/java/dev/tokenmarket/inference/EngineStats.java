package dev.tokenmarket.inference;

/**
 * A snapshot of the engine's scheduler, for monitoring.
 *
 * @param activeSequences sequences currently stepped together
 * @param waitingRequests requests waiting for a sequence slot
 * @param stepsTotal      forward passes run since start (each reads the weights once)
 * @param rowsTotal       token rows processed since start (prompt and generated tokens)
 * @param tokensTotal     tokens sampled since start (including ones a cancelled caller never took)
 */
public record EngineStats(int activeSequences, int waitingRequests, long stepsTotal, long rowsTotal,
                          long tokensTotal) {
}
