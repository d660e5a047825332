package dev.tokenmarket.inference;

/** An fp32 weight matrix. */
record FloatMatrix(int rows, int cols, float[] data) implements WeightMatrix {

    FloatMatrix {
        if ((long) rows * cols != data.length) {
            throw new IllegalArgumentException("matrix data has " + data.length + " floats, expected " + rows + "*" + cols);
        }
    }

    @Override
    public void multiply(Kernels kernels, float[] x, int batch, float[] out, int rowStart, int rowEnd) {
        kernels.matmulF32(data, cols, x, batch, out, rows, rowStart, rowEnd);
    }

    @Override
    public long weightBytes() {
        return 4L * data.length;
    }
}
