package dev.tokenmarket.inference;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Java Vector API kernels. Loaded only through {@link KernelsHolder} when the
 * {@code jdk.incubator.vector} module is present.
 *
 * <p>Every dot product uses two vector accumulators over alternating chunks of the row, reduced
 * at the end, then a scalar tail. Batched products process up to four activation rows per weight
 * load but keep exactly that per-element order, so results are bit-identical whatever the batch.
 */
final class VectorKernels implements Kernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int LANES = F.length();
    // Byte vectors with as many lanes as F, so one load of int8 weights widens to one float vector.
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 4)));

    // Butterfly shuffles (lane i <-> lane i ^ step) for a horizontal sum built from lane-wise adds only.
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] BUTTERFLIES = butterflies();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] butterflies() {
        int steps = Integer.numberOfTrailingZeros(LANES);
        VectorShuffle<Float>[] result = (VectorShuffle<Float>[]) new VectorShuffle<?>[steps];
        for (int k = 0; k < steps; k++) {
            int step = LANES >> (k + 1);
            result[k] = VectorShuffle.fromOp(F, i -> i ^ step);
        }
        return result;
    }

    /**
     * Horizontal sum in a fixed order. {@code reduceLanes(ADD)} leaves the order of float additions
     * unspecified, and it does differ between interpreted and JIT-compiled code, which would make
     * results depend on warm-up; lane-wise adds are exact IEEE operations in every mode.
     */
    private static float sum(FloatVector v) {
        FloatVector acc = v;
        for (VectorShuffle<Float> butterfly : BUTTERFLIES) {
            acc = acc.add(acc.rearrange(butterfly));
        }
        return acc.lane(0);
    }

    @Override
    public String name() {
        return "vector-" + F.vectorBitSize() + "bit";
    }

    /*
     * Matrix products. Every output element is one accumulator fed with the row's chunks in order,
     * then a butterfly sum, then the scalar tail with fma. The tiles below (several rows and/or
     * several activation rows at once, to reuse loads and keep independent FMA chains in flight)
     * all keep exactly that per-element order, so results are bit-identical whatever the batch
     * size, the tile chosen or the row range. Rows are the outer loop so a weight row is read
     * from memory once per call and reused from L1 for every activation row.
     */

    @Override
    public void matmulF32(float[] w, int cols, float[] x, int batch, float[] out, int outStride, int rowStart,
                          int rowEnd) {
        int r = rowStart;
        if (batch == 1) {
            for (; r + 4 <= rowEnd; r += 4) {
                dot4x1(w, r * cols, cols, x, 0, out, r);
            }
        } else {
            for (; r + 2 <= rowEnd; r += 2) {
                multiplyTwoRows(w, r * cols, cols, x, batch, out, outStride, r);
            }
        }
        for (; r < rowEnd; r++) {
            for (int b = 0; b < batch; b++) {
                out[b * outStride + r] = dot(w, r * cols, x, b * cols, cols);
            }
        }
    }

    /** Rows r and r+1 (weights starting at wOffset) times every activation row. */
    private static void multiplyTwoRows(float[] w, int wOffset, int cols, float[] x, int batch, float[] out,
                                        int outStride, int r) {
        int b = 0;
        for (; b + 4 <= batch; b += 4) {
            dot2x4(w, wOffset, cols, x, b * cols, out, b * outStride + r, outStride);
        }
        for (; b < batch; b++) {
            out[b * outStride + r] = dot1(w, wOffset, x, b * cols, cols);
            out[b * outStride + r + 1] = dot1(w, wOffset + cols, x, b * cols, cols);
        }
    }

    /** Four consecutive weight rows times one activation row. */
    private static void dot4x1(float[] w, int wOffset, int cols, float[] x, int xOffset, float[] out, int outIndex) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F);
        int w1 = wOffset + cols;
        int w2 = w1 + cols;
        int w3 = w2 + cols;
        int bound = F.loopBound(cols);
        for (int j = 0; j < bound; j += LANES) {
            FloatVector xv = FloatVector.fromArray(F, x, xOffset + j);
            a0 = FloatVector.fromArray(F, w, wOffset + j).fma(xv, a0);
            a1 = FloatVector.fromArray(F, w, w1 + j).fma(xv, a1);
            a2 = FloatVector.fromArray(F, w, w2 + j).fma(xv, a2);
            a3 = FloatVector.fromArray(F, w, w3 + j).fma(xv, a3);
        }
        out[outIndex] = tail(w, wOffset, x, xOffset, bound, cols, sum(a0));
        out[outIndex + 1] = tail(w, w1, x, xOffset, bound, cols, sum(a1));
        out[outIndex + 2] = tail(w, w2, x, xOffset, bound, cols, sum(a2));
        out[outIndex + 3] = tail(w, w3, x, xOffset, bound, cols, sum(a3));
    }

    /** Two consecutive weight rows times four consecutive activation rows. */
    private static void dot2x4(float[] w, int wOffset, int cols, float[] x, int xOffset, float[] out, int outIndex,
                               int outStride) {
        FloatVector a00 = FloatVector.zero(F), a01 = FloatVector.zero(F);
        FloatVector a02 = FloatVector.zero(F), a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F), a11 = FloatVector.zero(F);
        FloatVector a12 = FloatVector.zero(F), a13 = FloatVector.zero(F);
        int w1 = wOffset + cols;
        int x1 = xOffset + cols;
        int x2 = x1 + cols;
        int x3 = x2 + cols;
        int bound = F.loopBound(cols);
        for (int j = 0; j < bound; j += LANES) {
            FloatVector wa = FloatVector.fromArray(F, w, wOffset + j);
            FloatVector wb = FloatVector.fromArray(F, w, w1 + j);
            FloatVector xv = FloatVector.fromArray(F, x, xOffset + j);
            a00 = wa.fma(xv, a00);
            a10 = wb.fma(xv, a10);
            xv = FloatVector.fromArray(F, x, x1 + j);
            a01 = wa.fma(xv, a01);
            a11 = wb.fma(xv, a11);
            xv = FloatVector.fromArray(F, x, x2 + j);
            a02 = wa.fma(xv, a02);
            a12 = wb.fma(xv, a12);
            xv = FloatVector.fromArray(F, x, x3 + j);
            a03 = wa.fma(xv, a03);
            a13 = wb.fma(xv, a13);
        }
        out[outIndex] = tail(w, wOffset, x, xOffset, bound, cols, sum(a00));
        out[outIndex + outStride] = tail(w, wOffset, x, x1, bound, cols, sum(a01));
        out[outIndex + 2 * outStride] = tail(w, wOffset, x, x2, bound, cols, sum(a02));
        out[outIndex + 3 * outStride] = tail(w, wOffset, x, x3, bound, cols, sum(a03));
        out[outIndex + 1] = tail(w, w1, x, xOffset, bound, cols, sum(a10));
        out[outIndex + 1 + outStride] = tail(w, w1, x, x1, bound, cols, sum(a11));
        out[outIndex + 1 + 2 * outStride] = tail(w, w1, x, x2, bound, cols, sum(a12));
        out[outIndex + 1 + 3 * outStride] = tail(w, w1, x, x3, bound, cols, sum(a13));
    }

    /** Adds the elements past the last full vector with fma, in order. */
    private static float tail(float[] w, int wOffset, float[] x, int xOffset, int from, int cols, float sum) {
        float result = sum;
        for (int j = from; j < cols; j++) {
            result = Math.fma(w[wOffset + j], x[xOffset + j], result);
        }
        return result;
    }

    @Override
    public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
        return dot1(a, aOffset, b, bOffset, length);
    }

    private static float dot1(float[] a, int aOffset, float[] b, int bOffset, int length) {
        FloatVector acc = FloatVector.zero(F);
        int bound = F.loopBound(length);
        for (int j = 0; j < bound; j += LANES) {
            acc = FloatVector.fromArray(F, a, aOffset + j).fma(FloatVector.fromArray(F, b, bOffset + j), acc);
        }
        return tail(a, aOffset, b, bOffset, bound, length, sum(acc));
    }

    /**
     * int8 products: two rows at a time are dequantized ({@code q * scale}, one exact float multiply
     * per weight) into a small fp32 buffer, then multiplied by the fp32 tiles. The dequantization is
     * paid once per weight per call, however many activation rows there are.
     */
    @Override
    public void matmulQ8(byte[] q, float[] scales, int groupSize, int cols, float[] x, int batch, float[] out,
                         int outStride, int rowStart, int rowEnd) {
        int groupsPerRow = (cols + groupSize - 1) / groupSize;
        if (batch == 1 && groupSize % LANES == 0) {
            multiplyQ8Single(q, scales, groupSize, groupsPerRow, cols, x, out, rowStart, rowEnd);
            return;
        }
        // (4, cols): dequantized weight rows
        float[] rows = new float[4 * cols];
        int r = rowStart;
        int tile = batch == 1 ? 4 : 2;
        for (; r + tile <= rowEnd; r += tile) {
            for (int t = 0; t < tile; t++) {
                dequantizeRow(q, (r + t) * cols, scales, (r + t) * groupsPerRow, groupSize, cols, rows, t * cols);
            }
            if (batch == 1) {
                dot4x1(rows, 0, cols, x, 0, out, r);
            } else {
                multiplyTwoRows(rows, 0, cols, x, batch, out, outStride, r);
            }
        }
        for (; r < rowEnd; r++) {
            dequantizeRow(q, r * cols, scales, r * groupsPerRow, groupSize, cols, rows, 0);
            for (int b = 0; b < batch; b++) {
                out[b * outStride + r] = dot(rows, 0, x, b * cols, cols);
            }
        }
    }

    /**
     * One activation row: dequantizes in registers instead of through the buffer. Each weight is still
     * {@code q * scale} rounded once and fed to the same fma chain, so the results are bit-identical
     * to the buffered path used for batches.
     */
    private static void multiplyQ8Single(byte[] q, float[] scales, int groupSize, int groupsPerRow, int cols,
                                         float[] x, float[] out, int rowStart, int rowEnd) {
        int bound = F.loopBound(cols);
        int r = rowStart;
        for (; r + 4 <= rowEnd; r += 4) {
            int q0 = r * cols;
            int q1 = q0 + cols;
            int q2 = q1 + cols;
            int q3 = q2 + cols;
            int s0 = r * groupsPerRow;
            int s1 = s0 + groupsPerRow;
            int s2 = s1 + groupsPerRow;
            int s3 = s2 + groupsPerRow;
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = FloatVector.zero(F);
            FloatVector a2 = FloatVector.zero(F);
            FloatVector a3 = FloatVector.zero(F);
            for (int j = 0; j < bound; j += LANES) {
                int g = j / groupSize;
                FloatVector xv = FloatVector.fromArray(F, x, j);
                a0 = widen(q, q0 + j).mul(scales[s0 + g]).fma(xv, a0);
                a1 = widen(q, q1 + j).mul(scales[s1 + g]).fma(xv, a1);
                a2 = widen(q, q2 + j).mul(scales[s2 + g]).fma(xv, a2);
                a3 = widen(q, q3 + j).mul(scales[s3 + g]).fma(xv, a3);
            }
            out[r] = q8Tail(q, q0, scales, s0, groupSize, x, bound, cols, sum(a0));
            out[r + 1] = q8Tail(q, q1, scales, s1, groupSize, x, bound, cols, sum(a1));
            out[r + 2] = q8Tail(q, q2, scales, s2, groupSize, x, bound, cols, sum(a2));
            out[r + 3] = q8Tail(q, q3, scales, s3, groupSize, x, bound, cols, sum(a3));
        }
        for (; r < rowEnd; r++) {
            int q0 = r * cols;
            int s0 = r * groupsPerRow;
            FloatVector a0 = FloatVector.zero(F);
            for (int j = 0; j < bound; j += LANES) {
                a0 = widen(q, q0 + j).mul(scales[s0 + j / groupSize]).fma(FloatVector.fromArray(F, x, j), a0);
            }
            out[r] = q8Tail(q, q0, scales, s0, groupSize, x, bound, cols, sum(a0));
        }
    }

    private static FloatVector widen(byte[] q, int offset) {
        return (FloatVector) ByteVector.fromArray(B, q, offset).convertShape(VectorOperators.B2F, F, 0);
    }

    private static float q8Tail(byte[] q, int qOffset, float[] scales, int scaleOffset, int groupSize, float[] x,
                                int from, int cols, float sum) {
        float result = sum;
        for (int j = from; j < cols; j++) {
            result = Math.fma(q[qOffset + j] * scales[scaleOffset + j / groupSize], x[j], result);
        }
        return result;
    }

    private static void dequantizeRow(byte[] q, int qOffset, float[] scales, int scaleOffset, int groupSize, int cols,
                                      float[] target, int targetOffset) {
        int j = 0;
        if (groupSize % LANES == 0) {
            int fullGroups = cols / groupSize;
            for (int g = 0; g < fullGroups; g++) {
                float scale = scales[scaleOffset + g];
                for (int end = j + groupSize; j < end; j += LANES) {
                    ((FloatVector) ByteVector.fromArray(B, q, qOffset + j).convertShape(VectorOperators.B2F, F, 0))
                            .mul(scale).intoArray(target, targetOffset + j);
                }
            }
        }
        for (; j < cols; j++) {
            target[targetOffset + j] = q[qOffset + j] * scales[scaleOffset + j / groupSize];
        }
    }

    @Override
    public void axpy(float a, float[] x, int xOffset, float[] y, int yOffset, int length) {
        FloatVector scale = FloatVector.broadcast(F, a);
        int j = 0;
        int bound = F.loopBound(length);
        for (; j < bound; j += LANES) {
            FloatVector.fromArray(F, x, xOffset + j).fma(scale, FloatVector.fromArray(F, y, yOffset + j))
                    .intoArray(y, yOffset + j);
        }
        for (; j < length; j++) {
            y[yOffset + j] = Math.fma(x[xOffset + j], a, y[yOffset + j]);
        }
    }

    // exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two for accuracy), and
    // e^r from the Cephes expf polynomial; about 1 ulp, and built from exact IEEE lane-wise operations
    // only, so it gives the same bits interpreted, compiled, in vector lanes and in the scalar tail.
    private static final float EXP_INPUT_MIN = -87.3f;
    private static final float EXP_INPUT_MAX = 88.3f;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HIGH = 0.693359375f;
    private static final float LN2_LOW = -2.12194440e-4f;
    private static final float ROUNDING_MAGIC = 12582912f;
    private static final int ROUNDING_MAGIC_BITS = 0x4B400000;
    private static final float P0 = 1.9875691500E-4f;
    private static final float P1 = 1.3981999507E-3f;
    private static final float P2 = 8.3334519073E-3f;
    private static final float P3 = 4.1665795894E-2f;
    private static final float P4 = 1.6666665459E-1f;
    private static final float P5 = 5.0000001201E-1f;

    static float exp(float input) {
        float x = Math.min(Math.max(input, EXP_INPUT_MIN), EXP_INPUT_MAX);
        float shifted = Math.fma(x, LOG2E, ROUNDING_MAGIC);
        int n = Float.floatToRawIntBits(shifted) - ROUNDING_MAGIC_BITS;
        float nf = shifted - ROUNDING_MAGIC;
        float r = Math.fma(nf, -LN2_HIGH, x);
        r = Math.fma(nf, -LN2_LOW, r);
        float p = Math.fma(P0, r, P1);
        p = Math.fma(p, r, P2);
        p = Math.fma(p, r, P3);
        p = Math.fma(p, r, P4);
        p = Math.fma(p, r, P5);
        float e = Math.fma(p, r * r, r) + 1f;
        return e * Float.intBitsToFloat((n + 127) << 23);
    }

    private static FloatVector exp(FloatVector input) {
        FloatVector x = input.max(EXP_INPUT_MIN).min(EXP_INPUT_MAX);
        FloatVector shifted = x.fma(LOG2E, ROUNDING_MAGIC);
        IntVector n = shifted.reinterpretAsInts().sub(ROUNDING_MAGIC_BITS);
        FloatVector nf = shifted.sub(ROUNDING_MAGIC);
        FloatVector r = nf.fma(FloatVector.broadcast(F, -LN2_HIGH), x);
        r = nf.fma(FloatVector.broadcast(F, -LN2_LOW), r);
        FloatVector p = r.fma(P0, P1);
        p = p.fma(r, FloatVector.broadcast(F, P2));
        p = p.fma(r, FloatVector.broadcast(F, P3));
        p = p.fma(r, FloatVector.broadcast(F, P4));
        p = p.fma(r, FloatVector.broadcast(F, P5));
        FloatVector e = p.fma(r.mul(r), r).add(1f);
        FloatVector scale = n.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return e.mul(scale);
    }

    @Override
    public void attendHead(float[] q, int qOffset, float[] keys, float[] values, int kvOffset, int kvStride,
                           int positions, int headSize, float[] scores, int scoresOffset, float[] out, int outOffset) {
        float scale = (float) Math.sqrt(headSize);
        for (int t = 0; t < positions; t++) {
            scores[scoresOffset + t] = dot1(q, qOffset, keys, kvOffset + t * kvStride, headSize) / scale;
        }
        softmax(scores, scoresOffset, positions);
        int bound = F.loopBound(headSize);
        // Positions inner, so each output chunk accumulates in a register instead of through memory.
        for (int c = 0; c < bound; c += LANES) {
            FloatVector acc = FloatVector.zero(F);
            for (int t = 0; t < positions; t++) {
                acc = FloatVector.fromArray(F, values, kvOffset + t * kvStride + c)
                        .fma(FloatVector.broadcast(F, scores[scoresOffset + t]), acc);
            }
            acc.intoArray(out, outOffset + c);
        }
        for (int i = bound; i < headSize; i++) {
            float acc = 0f;
            for (int t = 0; t < positions; t++) {
                acc = Math.fma(values[kvOffset + t * kvStride + i], scores[scoresOffset + t], acc);
            }
            out[outOffset + i] = acc;
        }
    }

    @Override
    public void softmax(float[] values, int offset, int length) {
        int bound = F.loopBound(length);
        float max = Float.NEGATIVE_INFINITY;
        if (bound > 0) {
            FloatVector maxes = FloatVector.fromArray(F, values, offset);
            for (int i = LANES; i < bound; i += LANES) {
                maxes = maxes.max(FloatVector.fromArray(F, values, offset + i));
            }
            max = maxes.reduceLanes(VectorOperators.MAX);
        }
        for (int i = bound; i < length; i++) {
            max = Math.max(max, values[offset + i]);
        }
        FloatVector sums = FloatVector.zero(F);
        for (int i = 0; i < bound; i += LANES) {
            FloatVector e = exp(FloatVector.fromArray(F, values, offset + i).sub(max));
            e.intoArray(values, offset + i);
            sums = sums.add(e);
        }
        float sum = sum(sums);
        for (int i = bound; i < length; i++) {
            float e = exp(values[offset + i] - max);
            values[offset + i] = e;
            sum += e;
        }
        for (int i = 0; i < bound; i += LANES) {
            FloatVector.fromArray(F, values, offset + i).div(sum).intoArray(values, offset + i);
        }
        for (int i = bound; i < length; i++) {
            values[offset + i] /= sum;
        }
    }

    @Override
    public void swiglu(float[] gate, float[] up, int length) {
        int bound = F.loopBound(length);
        for (int i = 0; i < bound; i += LANES) {
            FloatVector g = FloatVector.fromArray(F, gate, i);
            FloatVector sigmoid = exp(g.neg()).add(1f);
            g.div(sigmoid).mul(FloatVector.fromArray(F, up, i)).intoArray(gate, i);
        }
        for (int i = bound; i < length; i++) {
            float g = gate[i];
            gate[i] = g / (exp(-g) + 1f) * up[i];
        }
    }
}
