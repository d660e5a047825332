package dev.tokenmarket.inference;

import java.util.List;

/**
 * The transformer forward pass over a batch of rows, where a row is one token of one sequence at
 * its position. A batch may mix several prompt tokens of one sequence (prompt processing) with the
 * next token of many others (decoding): every weight matrix is read once per batch and multiplied
 * with all rows together. Attention is per row, against that row's own sequence cache.
 *
 * <p>Scratch buffers are sized for {@code rowsMax} rows and reused; an instance is used by one
 * thread at a time (one per scheduler or per direct caller).
 */
final class ForwardPass {

    /** One sequence's share of a batch: {@code count} tokens starting at {@code tokens[from]}. */
    record Chunk(KvCache cache, int[] tokens, int from, int count) {
    }

    private static final float RMS_EPSILON = 1e-5f;

    private final LlamaModel model;
    private final ModelConfig config;
    private final Compute compute;
    private final int rowsMax;
    private final int chunksMax;
    // (rows, dim)
    private final float[] x;
    private final float[] xb;
    private final float[] xb2;
    private final float[] q;
    // (rows, kv_dim)
    private final float[] k;
    private final float[] v;
    // (rows, hidden_dim)
    private final float[] hb;
    private final float[] hb2;
    // (chunks, dim): final normed state of the last row of each chunk
    private final float[] lastRows;
    // (chunks, vocab)
    private final float[] logits;
    // (threads, seq_len): attention scores, one row per worker
    private final float[] attention;
    // (rows): position and chunk of each row in the current batch
    private final int[] rowPosition;
    private final int[] rowChunk;

    ForwardPass(LlamaModel model, Compute compute, int rowsMax, int chunksMax) {
        if (rowsMax < 1 || chunksMax < 1 || chunksMax > rowsMax) {
            throw new IllegalArgumentException("rowsMax " + rowsMax + " / chunksMax " + chunksMax + " invalid");
        }
        this.model = model;
        this.config = model.config();
        this.compute = compute;
        this.rowsMax = rowsMax;
        this.chunksMax = chunksMax;
        int dim = config.dim();
        this.x = new float[rowsMax * dim];
        this.xb = new float[rowsMax * dim];
        this.xb2 = new float[rowsMax * dim];
        this.q = new float[rowsMax * dim];
        this.k = new float[rowsMax * config.kvDim()];
        this.v = new float[rowsMax * config.kvDim()];
        this.hb = new float[rowsMax * config.hiddenDim()];
        this.hb2 = new float[rowsMax * config.hiddenDim()];
        this.lastRows = new float[chunksMax * dim];
        this.logits = new float[Math.multiplyExact(chunksMax, config.vocabSize())];
        this.attention = new float[compute.threads() * config.seqLen()];
        this.rowPosition = new int[rowsMax];
        this.rowChunk = new int[rowsMax];
    }

    /**
     * Runs the chunks through the model, appends their keys and values to their caches and returns
     * the logits of the last token of each chunk, as (chunks, vocab) starting at offset 0 of the
     * returned array (valid until the next call).
     */
    float[] forward(List<Chunk> chunks) {
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        int rows = 0;
        if (chunks.size() > chunksMax) {
            throw new IllegalArgumentException(chunks.size() + " chunks exceed " + chunksMax);
        }
        float[] embedding = model.tokenEmbedding();
        for (int c = 0; c < chunks.size(); c++) {
            Chunk chunk = chunks.get(c);
            if (rows + chunk.count() > rowsMax || chunk.count() < 1) {
                throw new IllegalArgumentException("batch rows exceed " + rowsMax);
            }
            if (chunk.cache().length() + chunk.count() > chunk.cache().capacity()) {
                throw new IllegalStateException("sequence would overflow its kv cache");
            }
            for (int i = 0; i < chunk.count(); i++) {
                int token = chunk.tokens()[chunk.from() + i];
                System.arraycopy(embedding, token * dim, x, rows * dim, dim);
                rowPosition[rows] = chunk.cache().length() + i;
                rowChunk[rows] = c;
                rows++;
            }
        }
        final int rowCount = rows;
        for (int layer = 0; layer < config.nLayers(); layer++) {
            rmsNorm(xb, x, model.rmsAttention(layer), rowCount, dim);
            compute.matmul(model.wq(layer), xb, rowCount, q);
            compute.matmul(model.wk(layer), xb, rowCount, k);
            compute.matmul(model.wv(layer), xb, rowCount, v);
            for (int r = 0; r < rowCount; r++) {
                rope(r, rowPosition[r]);
                KvCache cache = chunks.get(rowChunk[r]).cache();
                int at = cache.offset(layer, rowPosition[r]);
                System.arraycopy(k, r * kvDim, cache.keys(), at, kvDim);
                System.arraycopy(v, r * kvDim, cache.values(), at, kvDim);
            }
            attention(chunks, layer, rowCount);
            compute.matmul(model.wo(layer), xb, rowCount, xb2);
            add(x, xb2, rowCount * dim);
            rmsNorm(xb, x, model.rmsFeedForward(layer), rowCount, dim);
            compute.matmul(model.w1(layer), xb, rowCount, hb);
            compute.matmul(model.w3(layer), xb, rowCount, hb2);
            compute.kernels().swiglu(hb, hb2, rowCount * hidden);
            compute.matmul(model.w2(layer), hb, rowCount, xb);
            add(x, xb, rowCount * dim);
        }
        // Only the last row of each chunk needs logits: gather those rows before the classifier.
        int lastRow = -1;
        for (int c = 0; c < chunks.size(); c++) {
            lastRow += chunks.get(c).count();
            rmsNormRow(lastRows, c * dim, x, lastRow * dim, model.rmsFinal(), dim);
        }
        compute.matmul(model.classifier(), lastRows, chunks.size(), logits);
        for (Chunk chunk : chunks) {
            chunk.cache().advance(chunk.count());
        }
        return logits;
    }

    private void attention(List<Chunk> chunks, int layer, int rowCount) {
        int heads = config.nHeads();
        int work = rowCount * heads;
        long cost = 0;
        for (int r = 0; r < rowCount; r++) {
            cost += (long) (rowPosition[r] + 1) * config.dim() * 2;
        }
        if (compute.worthParallel(cost) && work > 1) {
            compute.parallelFor(work, (start, end, worker) -> attendRange(chunks, layer, start, end, worker));
        } else {
            attendRange(chunks, layer, 0, work, 0);
        }
    }

    /** Attention for (row, head) items {@code [start, end)}; writes each head's output into xb. */
    private void attendRange(List<Chunk> chunks, int layer, int start, int end, int worker) {
        Kernels kernels = compute.kernels();
        int heads = config.nHeads();
        int headSize = config.headSize();
        int dim = config.dim();
        int kvMultiplier = config.kvMultiplier();
        int scoresOffset = worker * config.seqLen();
        for (int item = start; item < end; item++) {
            int r = item / heads;
            int h = item % heads;
            KvCache cache = chunks.get(rowChunk[r]).cache();
            int kvOffset = cache.offset(layer, 0) + (h / kvMultiplier) * headSize;
            int headOffset = r * dim + h * headSize;
            kernels.attendHead(q, headOffset, cache.keys(), cache.values(), kvOffset, config.kvDim(),
                    rowPosition[r] + 1, headSize, attention, scoresOffset, xb, headOffset);
        }
    }

    /** Rotary position embedding of row r's query (all heads) and key (all kv heads). */
    private void rope(int r, int position) {
        int headSize = config.headSize();
        int half = headSize / 2;
        float[] cos = model.ropeCos();
        float[] sin = model.ropeSin();
        int dim = config.dim();
        int kvDim = config.kvDim();
        for (int i = 0; i < dim; i += 2) {
            int pair = (i % headSize) / 2;
            float fcr = cos[position * half + pair];
            float fci = sin[position * half + pair];
            rotate(q, r * dim + i, fcr, fci);
            if (i < kvDim) {
                rotate(k, r * kvDim + i, fcr, fci);
            }
        }
    }

    private static void rotate(float[] vector, int i, float fcr, float fci) {
        float v0 = vector[i];
        float v1 = vector[i + 1];
        vector[i] = v0 * fcr - v1 * fci;
        vector[i + 1] = v0 * fci + v1 * fcr;
    }

    private static void rmsNorm(float[] out, float[] in, float[] weight, int rows, int dim) {
        for (int r = 0; r < rows; r++) {
            rmsNormRow(out, r * dim, in, r * dim, weight, dim);
        }
    }

    private static void rmsNormRow(float[] out, int outOffset, float[] in, int inOffset, float[] weight, int dim) {
        float ss = 0f;
        for (int j = 0; j < dim; j++) {
            ss += in[inOffset + j] * in[inOffset + j];
        }
        ss /= dim;
        ss += RMS_EPSILON;
        ss = 1.0f / (float) Math.sqrt(ss);
        for (int j = 0; j < dim; j++) {
            out[outOffset + j] = weight[j] * (ss * in[inOffset + j]);
        }
    }

    private static void add(float[] target, float[] addend, int length) {
        for (int i = 0; i < length; i++) {
            target[i] += addend[i];
        }
    }
}
