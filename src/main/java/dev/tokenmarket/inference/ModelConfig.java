package dev.tokenmarket.inference;

/**
 * Shape of a Llama-2 style transformer, as stored in the seven-integer header of a llama2.c
 * checkpoint. The compact constructor rejects shapes the engine cannot run, so every
 * {@code ModelConfig} in circulation is usable.
 *
 * @param dim              width of the residual stream
 * @param hiddenDim        width of the SwiGLU feed-forward layer
 * @param nLayers          number of transformer blocks
 * @param nHeads           number of query heads
 * @param nKvHeads         number of key/value heads (grouped-query attention when smaller than nHeads)
 * @param vocabSize        number of tokens
 * @param seqLen           context window in tokens
 * @param sharedClassifier whether the output classifier reuses the token embedding table
 */
public record ModelConfig(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen,
                          boolean sharedClassifier) {

    /** Upper bounds keep every weight matrix inside one Java array and every cache allocation sane. */
    public static final int DIM_MAX = 16_384;
    public static final int HIDDEN_DIM_MAX = 65_536;
    public static final int LAYERS_MAX = 256;
    public static final int VOCAB_SIZE_MAX = 1 << 20;
    public static final int SEQ_LEN_MAX = 1 << 16;

    public ModelConfig {
        requireRange("dim", dim, 2, DIM_MAX);
        requireRange("hiddenDim", hiddenDim, 1, HIDDEN_DIM_MAX);
        requireRange("nLayers", nLayers, 1, LAYERS_MAX);
        requireRange("nHeads", nHeads, 1, dim);
        requireRange("nKvHeads", nKvHeads, 1, nHeads);
        requireRange("vocabSize", vocabSize, 3, VOCAB_SIZE_MAX);
        requireRange("seqLen", seqLen, 2, SEQ_LEN_MAX);
        if (dim % nHeads != 0) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "model shape: dim " + dim + " is not a multiple of nHeads " + nHeads);
        }
        if (nHeads % nKvHeads != 0) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "model shape: nHeads " + nHeads + " is not a multiple of nKvHeads " + nKvHeads);
        }
        if ((dim / nHeads) % 2 != 0) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "model shape: head size " + (dim / nHeads) + " must be even for rotary embeddings");
        }
        if ((long) vocabSize * dim > Integer.MAX_VALUE - 16 || (long) hiddenDim * dim > Integer.MAX_VALUE - 16) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "model shape: a weight matrix exceeds the largest Java array (vocabSize*dim or hiddenDim*dim)");
        }
    }

    private static void requireRange(String field, int value, int min, int max) {
        if (value < min || value > max) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "model shape: " + field + " is " + value + ", must be between " + min + " and " + max);
        }
    }

    /** Width of one attention head. */
    public int headSize() {
        return dim / nHeads;
    }

    /** Width of the key (and value) projection: all key/value heads together. */
    public int kvDim() {
        return dim / nHeads * nKvHeads;
    }

    /** Query heads that share one key/value head. */
    public int kvMultiplier() {
        return nHeads / nKvHeads;
    }

    /** Number of weights (parameters) including the separate classifier when not shared. */
    public long parameterCount() {
        long perLayer = 2L * dim + (long) dim * dim * 2 + (long) dim * kvDim() * 2 + 3L * dim * hiddenDim;
        return (long) vocabSize * dim * (sharedClassifier ? 1 : 2) + nLayers * perLayer + dim;
    }
}
