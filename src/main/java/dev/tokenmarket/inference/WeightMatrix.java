package dev.tokenmarket.inference;

/**
 * A (rows, cols) weight matrix, row-major, multiplied with a batch of activation vectors. The
 * batch form is what lets the engine read every weight once per step however many sequences or
 * prompt tokens are in the step.
 */
sealed interface WeightMatrix permits FloatMatrix, Q8Matrix {

    int rows();

    int cols();

    /**
     * Computes {@code out[b * rows + r] = row(r) . x[b * cols .. (b + 1) * cols)} for rows in
     * {@code [rowStart, rowEnd)} and all {@code b < batch}. Each output element is computed the
     * same way whatever the batch size or row range, so results do not depend on how work is split.
     */
    void multiply(Kernels kernels, float[] x, int batch, float[] out, int rowStart, int rowEnd);

    /** Bytes of weight data read by one full multiplication. */
    long weightBytes();
}
