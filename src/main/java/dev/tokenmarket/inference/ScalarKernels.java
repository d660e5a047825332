package dev.tokenmarket.inference;

/** Plain Java loops; the fallback when the Vector API is not available, and the reference in tests. */
final class ScalarKernels implements Kernels {

    static final ScalarKernels INSTANCE = new ScalarKernels();

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void matmulF32(float[] w, int cols, float[] x, int batch, float[] out, int outStride, int rowStart,
                          int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int rowOffset = r * cols;
            for (int b = 0; b < batch; b++) {
                out[b * outStride + r] = dot(w, rowOffset, x, b * cols, cols);
            }
        }
    }

    @Override
    public void matmulQ8(byte[] q, float[] scales, int groupSize, int cols, float[] x, int batch, float[] out,
                         int outStride, int rowStart, int rowEnd) {
        int groupsPerRow = (cols + groupSize - 1) / groupSize;
        for (int r = rowStart; r < rowEnd; r++) {
            int rowOffset = r * cols;
            for (int b = 0; b < batch; b++) {
                out[b * outStride + r] = q8DotScalar(q, rowOffset, scales, r * groupsPerRow, groupSize, cols, x,
                        b * cols);
            }
        }
    }

    /** One int8 row times one activation row; each weight is dequantized ({@code q * scale}) before use. */
    static float q8DotScalar(byte[] q, int rowOffset, float[] scales, int scaleOffset, int groupSize, int cols,
                             float[] x, int xOffset) {
        float sum = 0f;
        for (int j = 0; j < cols; j++) {
            sum += q[rowOffset + j] * scales[scaleOffset + j / groupSize] * x[xOffset + j];
        }
        return sum;
    }

    @Override
    public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
        float sum = 0f;
        for (int i = 0; i < length; i++) {
            sum += a[aOffset + i] * b[bOffset + i];
        }
        return sum;
    }

    @Override
    public void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int length) {
        for (int i = 0; i < length; i++) {
            y[yOffset + i] += a * x[xOffset + i];
        }
    }

    @Override
    public void attendHead(float[] q, int qOffset, float[] keys, float[] values, int kvOffset, int kvStride,
                           int positions, int headSize, float[] scores, int scoresOffset, float[] out, int outOffset) {
        float scale = (float) Math.sqrt(headSize);
        for (int t = 0; t < positions; t++) {
            scores[scoresOffset + t] = dot(q, qOffset, keys, kvOffset + t * kvStride, headSize) / scale;
        }
        softmax(scores, scoresOffset, positions);
        java.util.Arrays.fill(out, outOffset, outOffset + headSize, 0f);
        for (int t = 0; t < positions; t++) {
            axpy(scores[scoresOffset + t], values, kvOffset + t * kvStride, out, outOffset, headSize);
        }
    }

    @Override
    public void softmax(float[] values, int offset, int length) {
        float max = values[offset];
        for (int i = 1; i < length; i++) {
            max = Math.max(max, values[offset + i]);
        }
        float sum = 0f;
        for (int i = 0; i < length; i++) {
            float e = (float) Math.exp(values[offset + i] - max);
            values[offset + i] = e;
            sum += e;
        }
        for (int i = 0; i < length; i++) {
            values[offset + i] /= sum;
        }
    }

    @Override
    public void swiglu(float[] gate, float[] up, int length) {
        for (int i = 0; i < length; i++) {
            float value = gate[i];
            value *= 1.0f / (1.0f + (float) Math.exp(-value));
            gate[i] = value * up[i];
        }
    }
}
