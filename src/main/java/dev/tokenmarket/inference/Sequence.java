package dev.tokenmarket.inference;

/**
 * Compute-side state of one generation: its tokens, KV cache and sampler. Whoever steps the
 * sequence (the scheduler thread, or the caller in direct mode) is the only thread touching it.
 */
final class Sequence {

    private final int[] tokens;
    private final int promptLength;
    private final int completionMax;
    private final KvCache cache;
    private final Sampler sampler;
    private int tokenCount;
    private int completionCount;
    private boolean finished;

    Sequence(ModelConfig config, int[] promptTokens, int completionMax, Sampler sampler) {
        this.promptLength = promptTokens.length;
        this.completionMax = completionMax;
        // (prompt + completion): the final sampled token is never fed back, but keeping it simplifies bookkeeping.
        this.tokens = java.util.Arrays.copyOf(promptTokens, promptLength + completionMax);
        this.tokenCount = promptLength;
        this.cache = new KvCache(config, Math.min(config.seqLen(), promptLength + completionMax));
        this.sampler = sampler;
    }

    /** The next piece of work: up to {@code rowsBudget} prompt tokens, or the last sampled token. */
    ForwardPass.Chunk nextChunk(int rowsBudget) {
        int from = cache.length();
        int count = Math.min(tokenCount - from, rowsBudget);
        return new ForwardPass.Chunk(cache, tokens, from, count);
    }

    /** Tokens known but not yet run through the model. */
    int pendingRows() {
        return tokenCount - cache.length();
    }

    /** Whether the last forward pass consumed everything, so its logits predict the next token. */
    boolean readyToSample() {
        return cache.length() == tokenCount;
    }

    /** Samples the next token from the logits and records it; marks the sequence finished when it ends. */
    int sampleNext(float[] logits, int offset) {
        int token = sampler.sample(logits, offset);
        if (token == Tokenizer.EOS || token == Tokenizer.BOS) {
            finished = true;
            return token;
        }
        tokens[tokenCount++] = token;
        completionCount++;
        if (completionCount >= completionMax) {
            finished = true;
        }
        return token;
    }

    boolean finished() {
        return finished;
    }

    void finish() {
        finished = true;
    }

    int completionCount() {
        return completionCount;
    }

    Sampler sampler() {
        return sampler;
    }
}
