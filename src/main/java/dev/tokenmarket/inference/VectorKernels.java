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
        VectorShuffle<Float>[] result = new VectorShuffle[steps];
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

    @Override
    public void matmulF32(float[] w, int cols, float[] x, int batch, float[] out, int outStride, int rowStart,
                          int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int wOffset = r * cols;
            int b = 0;
            for (; b + 4 <= batch; b += 4) {
                dot4(w, wOffset, x, b * cols, cols, out, b * outStride + r, outStride);
            }
            for (; b < batch; b++) {
                out[b * outStride + r] = dot(w, wOffset, x, b * cols, cols);
            }
        }
    }

    /** Four dot products of one weight row with four consecutive activation rows, same order as {@link #dot}. */
    private static void dot4(float[] w, int wOffset, float[] x, int xOffset, int cols, float[] out, int outIndex,
                             int outStride) {
        FloatVector a0 = FloatVector.zero(F), b0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F), b1 = FloatVector.zero(F);
        FloatVector a2 = FloatVector.zero(F), b2 = FloatVector.zero(F);
        FloatVector a3 = FloatVector.zero(F), b3 = FloatVector.zero(F);
        int x1 = xOffset + cols, x2 = x1 + cols, x3 = x2 + cols;
        int j = 0;
        int pairs = cols - cols % (2 * LANES);
        for (; j < pairs; j += 2 * LANES) {
            FloatVector wa = FloatVector.fromArray(F, w, wOffset + j);
            FloatVector wb = FloatVector.fromArray(F, w, wOffset + j + LANES);
            a0 = wa.fma(FloatVector.fromArray(F, x, xOffset + j), a0);
            b0 = wb.fma(FloatVector.fromArray(F, x, xOffset + j + LANES), b0);
            a1 = wa.fma(FloatVector.fromArray(F, x, x1 + j), a1);
            b1 = wb.fma(FloatVector.fromArray(F, x, x1 + j + LANES), b1);
            a2 = wa.fma(FloatVector.fromArray(F, x, x2 + j), a2);
            b2 = wb.fma(FloatVector.fromArray(F, x, x2 + j + LANES), b2);
            a3 = wa.fma(FloatVector.fromArray(F, x, x3 + j), a3);
            b3 = wb.fma(FloatVector.fromArray(F, x, x3 + j + LANES), b3);
        }
        if (j + LANES <= cols) {
            FloatVector wa = FloatVector.fromArray(F, w, wOffset + j);
            a0 = wa.fma(FloatVector.fromArray(F, x, xOffset + j), a0);
            a1 = wa.fma(FloatVector.fromArray(F, x, x1 + j), a1);
            a2 = wa.fma(FloatVector.fromArray(F, x, x2 + j), a2);
            a3 = wa.fma(FloatVector.fromArray(F, x, x3 + j), a3);
            j += LANES;
        }
        float s0 = sum(a0.add(b0));
        float s1 = sum(a1.add(b1));
        float s2 = sum(a2.add(b2));
        float s3 = sum(a3.add(b3));
        for (; j < cols; j++) {
            float wj = w[wOffset + j];
            s0 = Math.fma(wj, x[xOffset + j], s0);
            s1 = Math.fma(wj, x[x1 + j], s1);
            s2 = Math.fma(wj, x[x2 + j], s2);
            s3 = Math.fma(wj, x[x3 + j], s3);
        }
        out[outIndex] = s0;
        out[outIndex + outStride] = s1;
        out[outIndex + 2 * outStride] = s2;
        out[outIndex + 3 * outStride] = s3;
    }

    @Override
    public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
        FloatVector accA = FloatVector.zero(F);
        FloatVector accB = FloatVector.zero(F);
        int j = 0;
        int pairs = length - length % (2 * LANES);
        for (; j < pairs; j += 2 * LANES) {
            accA = FloatVector.fromArray(F, a, aOffset + j).fma(FloatVector.fromArray(F, b, bOffset + j), accA);
            accB = FloatVector.fromArray(F, a, aOffset + j + LANES)
                    .fma(FloatVector.fromArray(F, b, bOffset + j + LANES), accB);
        }
        if (j + LANES <= length) {
            accA = FloatVector.fromArray(F, a, aOffset + j).fma(FloatVector.fromArray(F, b, bOffset + j), accA);
            j += LANES;
        }
        float sum = sum(accA.add(accB));
        for (; j < length; j++) {
            sum = Math.fma(a[aOffset + j], b[bOffset + j], sum);
        }
        return sum;
    }

    @Override
    public void matmulQ8(byte[] q, float[] scales, int groupSize, int cols, float[] x, int batch, float[] out,
                         int outStride, int rowStart, int rowEnd) {
        int groupsPerRow = (cols + groupSize - 1) / groupSize;
        boolean vectorGroups = groupSize % LANES == 0;
        for (int r = rowStart; r < rowEnd; r++) {
            int rowOffset = r * cols;
            int scaleOffset = r * groupsPerRow;
            int b = 0;
            if (vectorGroups) {
                for (; b + 2 <= batch; b += 2) {
                    q8Dot2(q, rowOffset, scales, scaleOffset, groupSize, cols, x, b * cols, out,
                            b * outStride + r, outStride);
                }
            }
            for (; b < batch; b++) {
                out[b * outStride + r] = vectorGroups
                        ? q8Dot(q, rowOffset, scales, scaleOffset, groupSize, cols, x, b * cols)
                        : ScalarKernels.q8DotScalar(q, rowOffset, scales, scaleOffset, groupSize, cols, x, b * cols);
            }
        }
    }

    /** One int8 row times one activation row: per full group a vector sum scaled into the accumulator. */
    private static float q8Dot(byte[] q, int rowOffset, float[] scales, int scaleOffset, int groupSize, int cols,
                               float[] x, int xOffset) {
        FloatVector acc = FloatVector.zero(F);
        int fullGroups = cols / groupSize;
        for (int g = 0; g < fullGroups; g++) {
            int start = g * groupSize;
            FloatVector group = FloatVector.zero(F);
            for (int j = start; j < start + groupSize; j += LANES) {
                FloatVector weights = (FloatVector) ByteVector.fromArray(B, q, rowOffset + j)
                        .convertShape(VectorOperators.B2F, F, 0);
                group = weights.fma(FloatVector.fromArray(F, x, xOffset + j), group);
            }
            acc = group.fma(FloatVector.broadcast(F, scales[scaleOffset + g]), acc);
        }
        float sum = sum(acc);
        return sum + tailGroup(q, rowOffset, scales, scaleOffset, groupSize, cols, x, xOffset, fullGroups);
    }

    /** Two activation rows per weight load, same per-element order as {@link #q8Dot}. */
    private static void q8Dot2(byte[] q, int rowOffset, float[] scales, int scaleOffset, int groupSize, int cols,
                               float[] x, int xOffset, float[] out, int outIndex, int outStride) {
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = FloatVector.zero(F);
        int x1 = xOffset + cols;
        int fullGroups = cols / groupSize;
        for (int g = 0; g < fullGroups; g++) {
            int start = g * groupSize;
            FloatVector group0 = FloatVector.zero(F);
            FloatVector group1 = FloatVector.zero(F);
            for (int j = start; j < start + groupSize; j += LANES) {
                FloatVector weights = (FloatVector) ByteVector.fromArray(B, q, rowOffset + j)
                        .convertShape(VectorOperators.B2F, F, 0);
                group0 = weights.fma(FloatVector.fromArray(F, x, xOffset + j), group0);
                group1 = weights.fma(FloatVector.fromArray(F, x, x1 + j), group1);
            }
            FloatVector scale = FloatVector.broadcast(F, scales[scaleOffset + g]);
            acc0 = group0.fma(scale, acc0);
            acc1 = group1.fma(scale, acc1);
        }
        out[outIndex] = sum(acc0)
                + tailGroup(q, rowOffset, scales, scaleOffset, groupSize, cols, x, xOffset, fullGroups);
        out[outIndex + outStride] = sum(acc1)
                + tailGroup(q, rowOffset, scales, scaleOffset, groupSize, cols, x, x1, fullGroups);
    }

    /** The shorter last group of a row whose length is not a multiple of the group size. */
    private static float tailGroup(byte[] q, int rowOffset, float[] scales, int scaleOffset, int groupSize, int cols,
                                   float[] x, int xOffset, int fullGroups) {
        int start = fullGroups * groupSize;
        if (start == cols) {
            return 0f;
        }
        float groupSum = 0f;
        for (int j = start; j < cols; j++) {
            groupSum += q[rowOffset + j] * x[xOffset + j];
        }
        return groupSum * scales[scaleOffset + fullGroups];
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
        IntVector n = (IntVector) shifted.reinterpretAsInts().sub(ROUNDING_MAGIC_BITS);
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
