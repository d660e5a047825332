package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KernelsTest {

    private static float[] random(SplittableRandom random, int length) {
        float[] values = new float[length];
        for (int i = 0; i < length; i++) {
            values[i] = (float) (random.nextDouble() * 2 - 1);
        }
        return values;
    }

    private static Kernels vectorKernels() {
        assumeTrue(Kernels.vectorApiAvailable(), "jdk.incubator.vector is not in the boot layer");
        return new VectorKernels();
    }

    private static void assertClose(float[] expected, float[] actual, float tolerance) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Math.abs(expected[i] - actual[i]) <= tolerance * (1 + Math.abs(expected[i])),
                    "index " + i + ": " + expected[i] + " vs " + actual[i]);
        }
    }

    @Test
    void vectorAndScalarAgreeOnFp32AndInt8Products() {
        // Proves the Vector API kernels compute the same products as the scalar fallback, within float rounding.
        Kernels vector = vectorKernels();
        Kernels scalar = ScalarKernels.INSTANCE;
        SplittableRandom random = new SplittableRandom(1);
        for (int cols : new int[] {7, 8, 64, 172, 288, 301}) {
            int rows = 37;
            int batch = 7;
            FloatMatrix matrix = new FloatMatrix(rows, cols, random(random, rows * cols));
            float[] x = random(random, batch * cols);
            float[] expected = new float[batch * rows];
            float[] actual = new float[batch * rows];
            matrix.multiply(scalar, x, batch, expected, 0, rows);
            matrix.multiply(vector, x, batch, actual, 0, rows);
            assertClose(expected, actual, 1e-4f);
            for (int groupSize : new int[] {8, 32, 64}) {
                Q8Matrix q8 = Q8Matrix.quantize(matrix, groupSize);
                q8.multiply(scalar, x, batch, expected, 0, rows);
                q8.multiply(vector, x, batch, actual, 0, rows);
                assertClose(expected, actual, 1e-4f);
            }
            assertEquals(scalar.dot(x, 1, x, cols, cols - 1), vector.dot(x, 1, x, cols, cols - 1),
                    1e-4f * cols);
            float[] y1 = random(new SplittableRandom(cols), cols);
            float[] y2 = y1.clone();
            scalar.axpy(0.3f, x, 2, y1, 0, cols - 2);
            vector.axpy(0.3f, x, 2, y2, 0, cols - 2);
            assertClose(y1, y2, 1e-5f);
        }
    }

    @Test
    void vectorAndScalarAgreeOnSoftmaxSwigluAndAttention() {
        // Proves the vector exp-based kernels (softmax, SwiGLU, one attention head) match the scalar reference.
        Kernels vector = vectorKernels();
        Kernels scalar = ScalarKernels.INSTANCE;
        SplittableRandom random = new SplittableRandom(3);
        for (int length : new int[] {1, 7, 8, 33, 300}) {
            float[] logits = random(random, length);
            for (int i = 0; i < length; i++) {
                logits[i] *= 30;
            }
            float[] expected = logits.clone();
            float[] actual = logits.clone();
            scalar.softmax(expected, 0, length);
            vector.softmax(actual, 0, length);
            assertClose(expected, actual, 1e-5f);
            float[] gate = random(random, length);
            float[] up = random(random, length);
            float[] gateVector = gate.clone();
            scalar.swiglu(gate, up, length);
            vector.swiglu(gateVector, up, length);
            assertClose(gate, gateVector, 1e-5f);
        }
        for (int headSize : new int[] {6, 8, 48}) {
            int positions = 37;
            int stride = 3 * headSize;
            float[] q = random(random, headSize);
            float[] keys = random(random, positions * stride);
            float[] values = random(random, positions * stride);
            float[] expected = new float[headSize];
            float[] actual = new float[headSize];
            scalar.attendHead(q, 0, keys, values, headSize, stride, positions, headSize, new float[positions], 0,
                    expected, 0);
            vector.attendHead(q, 0, keys, values, headSize, stride, positions, headSize, new float[positions], 0,
                    actual, 0);
            assertClose(expected, actual, 1e-5f);
        }
        assertEquals((float) Math.exp(-3.3), VectorKernels.exp(-3.3f), 2e-7f * (float) Math.exp(-3.3));
        assertEquals(0f, VectorKernels.exp(-200f), 1e-37f);
    }

    @Test
    void batchedProductsAreBitIdenticalToSingleRowProducts() {
        // Proves a row's result does not depend on batch size or row range, for both kernels and both formats.
        SplittableRandom random = new SplittableRandom(2);
        int rows = 29;
        int cols = 172;
        int batch = 9;
        FloatMatrix matrix = new FloatMatrix(rows, cols, random(random, rows * cols));
        WeightMatrix[] formats = {matrix, Q8Matrix.quantize(matrix, 32), Q8Matrix.quantize(matrix, 64)};
        float[] x = random(random, batch * cols);
        Kernels[] kernels = Kernels.vectorApiAvailable()
                ? new Kernels[] {ScalarKernels.INSTANCE, new VectorKernels()} : new Kernels[] {ScalarKernels.INSTANCE};
        for (Kernels k : kernels) {
            for (WeightMatrix w : formats) {
                float[] batched = new float[batch * rows];
                w.multiply(k, x, batch, batched, 0, rows);
                float[] single = new float[rows];
                for (int b = 0; b < batch; b++) {
                    float[] row = java.util.Arrays.copyOfRange(x, b * cols, (b + 1) * cols);
                    w.multiply(k, row, 1, single, 0, 13);
                    w.multiply(k, row, 1, single, 13, rows);
                    assertArrayEquals(java.util.Arrays.copyOfRange(batched, b * rows, (b + 1) * rows), single,
                            k.name() + " " + w.getClass().getSimpleName() + " batch row " + b);
                }
            }
        }
    }

    @Test
    void bestKernelsFollowModulePresence() {
        // Proves the automatic choice: vector kernels exactly when the incubator module is in the boot layer.
        assertEquals(Kernels.vectorApiAvailable() && !Boolean.getBoolean("tokenmarket.inference.scalar"),
                Kernels.best().name().startsWith("vector"));
    }
}
