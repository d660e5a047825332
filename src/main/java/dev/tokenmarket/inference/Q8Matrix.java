package dev.tokenmarket.inference;

/**
 * An int8 weight matrix in the style of Q8_0: each row is cut into groups of {@code groupSize}
 * weights (the last group of a row may be shorter when cols is not a multiple), and each group
 * stores one float scale with {@code weight ~= scale * q}, {@code q} in [-127, 127].
 * Groups never cross rows, so any row range can be multiplied on its own.
 */
record Q8Matrix(int rows, int cols, int groupSize, byte[] quants, float[] scales) implements WeightMatrix {

    /** Group sizes the format accepts; 32 matches Q8_0, 64 halves the scale overhead. */
    static final int GROUP_SIZE_MIN = 8;
    static final int GROUP_SIZE_MAX = 256;

    Q8Matrix {
        if (groupSize < GROUP_SIZE_MIN || groupSize > GROUP_SIZE_MAX) {
            throw new IllegalArgumentException("group size " + groupSize + " outside " + GROUP_SIZE_MIN + ".." + GROUP_SIZE_MAX);
        }
        if ((long) rows * cols != quants.length || (long) rows * groupsPerRow(cols, groupSize) != scales.length) {
            throw new IllegalArgumentException("q8 matrix arrays do not match shape " + rows + "x" + cols);
        }
    }

    static int groupsPerRow(int cols, int groupSize) {
        return (cols + groupSize - 1) / groupSize;
    }

    /** Quantizes an fp32 matrix group by group with a symmetric scale (max |w| maps to 127). */
    static Q8Matrix quantize(FloatMatrix source, int groupSize) {
        int rows = source.rows();
        int cols = source.cols();
        int groups = groupsPerRow(cols, groupSize);
        float[] data = source.data();
        byte[] quants = new byte[data.length];
        float[] scales = new float[rows * groups];
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < groups; g++) {
                int start = r * cols + g * groupSize;
                int end = r * cols + Math.min(cols, (g + 1) * groupSize);
                float maxAbs = 0f;
                for (int i = start; i < end; i++) {
                    maxAbs = Math.max(maxAbs, Math.abs(data[i]));
                }
                float scale = maxAbs / 127f;
                float inverse = scale == 0f ? 0f : 1f / scale;
                for (int i = start; i < end; i++) {
                    quants[i] = (byte) Math.round(data[i] * inverse);
                }
                scales[r * groups + g] = scale;
            }
        }
        return new Q8Matrix(rows, cols, groupSize, quants, scales);
    }

    /** Writes row {@code row} as floats into {@code out[offset..offset+cols)}; used for embedding lookups. */
    void dequantizeRow(int row, float[] out, int offset) {
        int groups = groupsPerRow(cols, groupSize);
        for (int j = 0; j < cols; j++) {
            out[offset + j] = quants[row * cols + j] * scales[row * groups + j / groupSize];
        }
    }

    @Override
    public void multiply(Kernels kernels, float[] x, int batch, float[] out, int rowStart, int rowEnd) {
        kernels.matmulQ8(quants, scales, groupSize, cols, x, batch, out, rows, rowStart, rowEnd);
    }

    @Override
    public long weightBytes() {
        return quants.length + 4L * scales.length;
    }
}
