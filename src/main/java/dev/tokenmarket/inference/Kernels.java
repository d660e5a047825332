package dev.tokenmarket.inference;

/**
 * The numeric inner loops. Two implementations exist: {@link ScalarKernels}, always available, and
 * {@code VectorKernels} (Java Vector API), used when the {@code jdk.incubator.vector} module is in
 * the boot layer. Implementations must compute each output element in an order that does not depend
 * on the batch size or row range, so a sequence's output does not depend on what it is batched with.
 */
interface Kernels {

    String name();

    /**
     * fp32 matrix times a batch of vectors: {@code out[b * outStride + r] = sum_j w[r * cols + j] * x[b * cols + j]}
     * for {@code r} in {@code [rowStart, rowEnd)}.
     */
    void matmulF32(float[] w, int cols, float[] x, int batch, float[] out, int outStride, int rowStart, int rowEnd);

    /**
     * int8 matrix with one scale per group of {@code groupSize} weights inside each row (the last
     * group of a row may be shorter): {@code out[b * outStride + r] = sum_j (q[r * cols + j] * scale(j)) * x[b * cols + j]}
     * where {@code scale(j)} is the scale of the group holding column j.
     */
    void matmulQ8(byte[] q, float[] scales, int groupSize, int cols, float[] x, int batch, float[] out, int outStride,
                  int rowStart, int rowEnd);

    /** Dot product of two float ranges. */
    float dot(float[] a, int aOffset, float[] b, int bOffset, int length);

    /** {@code y[yOffset + i] += a * x[xOffset + i]}. */
    void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int length);

    /**
     * One attention head over {@code positions} cached positions: scores {@code q . k_t / sqrt(headSize)},
     * softmax, then {@code out = sum_t p_t v_t}. Key and value of position t start at
     * {@code kvOffset + t * kvStride} in {@code keys} and {@code values}; {@code scores} is scratch.
     */
    void attendHead(float[] q, int qOffset, float[] keys, float[] values, int kvOffset, int kvStride, int positions,
                    int headSize, float[] scores, int scoresOffset, float[] out, int outOffset);

    /** Softmax of {@code values[offset .. offset + length)} in place. */
    void softmax(float[] values, int offset, int length);

    /** SwiGLU activation in place: {@code gate[i] = silu(gate[i]) * up[i]} for {@code i < length}. */
    void swiglu(float[] gate, float[] up, int length);

    /** Picks the Vector API kernels when the incubator module is present, the scalar ones otherwise. */
    static Kernels best() {
        return KernelsHolder.BEST;
    }

    /** Whether the Vector API module is present in the boot layer. */
    static boolean vectorApiAvailable() {
        return ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
    }
}
