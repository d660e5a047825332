package dev.tokenmarket.inference;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

/**
 * Immutable transformer weights, shared by every generation. Loaded from a llama2.c legacy fp32
 * checkpoint, generated from a seed, or quantized to int8 from either (see {@link #quantizeQ8}).
 */
public final class LlamaModel {

    /** Bytes of the llama2.c legacy header: seven little-endian int32 values. */
    static final int LEGACY_HEADER_BYTES = 7 * Integer.BYTES;

    private final ModelConfig config;
    private final String precision;
    // (vocab_size, dim); kept in fp32 even for int8 models because lookups read one row per token.
    private final float[] tokenEmbedding;
    // (layer, dim) each
    private final float[][] rmsAttention;
    private final float[][] rmsFeedForward;
    // (dim)
    private final float[] rmsFinal;
    // per layer: wq (dim, dim), wk (kv_dim, dim), wv (kv_dim, dim), wo (dim, dim),
    // w1 (hidden, dim), w2 (dim, hidden), w3 (hidden, dim)
    private final WeightMatrix[] wq;
    private final WeightMatrix[] wk;
    private final WeightMatrix[] wv;
    private final WeightMatrix[] wo;
    private final WeightMatrix[] w1;
    private final WeightMatrix[] w2;
    private final WeightMatrix[] w3;
    // (vocab_size, dim)
    private final WeightMatrix classifier;
    // (seq_len, head_size / 2): rotary embedding factors, identical for every head
    private final float[] ropeCos;
    private final float[] ropeSin;

    LlamaModel(ModelConfig config, String precision, float[] tokenEmbedding, float[][] rmsAttention,
               float[][] rmsFeedForward, float[] rmsFinal, WeightMatrix[] wq, WeightMatrix[] wk, WeightMatrix[] wv,
               WeightMatrix[] wo, WeightMatrix[] w1, WeightMatrix[] w2, WeightMatrix[] w3, WeightMatrix classifier) {
        this.config = config;
        this.precision = precision;
        this.tokenEmbedding = tokenEmbedding;
        this.rmsAttention = rmsAttention;
        this.rmsFeedForward = rmsFeedForward;
        this.rmsFinal = rmsFinal;
        this.wq = wq;
        this.wk = wk;
        this.wv = wv;
        this.wo = wo;
        this.w1 = w1;
        this.w2 = w2;
        this.w3 = w3;
        this.classifier = classifier;
        int half = config.headSize() / 2;
        this.ropeCos = new float[config.seqLen() * half];
        this.ropeSin = new float[config.seqLen() * half];
        for (int pos = 0; pos < config.seqLen(); pos++) {
            for (int pair = 0; pair < half; pair++) {
                // Same float arithmetic as llama2.c: freq = 1 / 10000^(head_dim / head_size).
                float freq = 1.0f / (float) Math.pow(10000.0f, (2 * pair) / (float) config.headSize());
                float angle = pos * freq;
                ropeCos[pos * half + pair] = (float) Math.cos(angle);
                ropeSin[pos * half + pair] = (float) Math.sin(angle);
            }
        }
    }

    /**
     * Loads a llama2.c legacy fp32 checkpoint: seven int32 header values (dim, hidden_dim, n_layers,
     * n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means a separate classifier),
     * then the tensors. The file size must match the header exactly. Files written by {@link #save}
     * from an int8 model (they start with the magic "TMQ8") are recognised and loaded as int8.
     *
     * @throws InferenceException with reason MODEL_FORMAT naming the problem
     */
    public static LlamaModel load(Path checkpoint) {
        try (FileChannel channel = FileChannel.open(checkpoint, StandardOpenOption.READ)) {
            long fileBytes = channel.size();
            if (fileBytes < LEGACY_HEADER_BYTES) {
                throw formatError(checkpoint, "is " + fileBytes + " bytes, shorter than the 28-byte header");
            }
            ByteBuffer header = ByteBuffer.allocate(LEGACY_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(channel, header, 0);
            header.flip();
            if (header.getInt(0) == Q8Checkpoint.MAGIC) {
                return Q8Checkpoint.read(checkpoint, channel);
            }
            int[] h = new int[7];
            for (int i = 0; i < 7; i++) {
                h[i] = header.getInt();
            }
            boolean shared = h[5] > 0;
            ModelConfig config;
            try {
                config = new ModelConfig(h[0], h[1], h[2], h[3], h[4], Math.abs(h[5]), h[6], shared);
            } catch (InferenceException e) {
                throw formatError(checkpoint, "has an unusable header: " + e.getMessage());
            }
            long expectedBytes = legacyFileBytes(config);
            if (fileBytes != expectedBytes) {
                throw formatError(checkpoint, "is " + fileBytes + " bytes but its header " + describe(config)
                        + " requires exactly " + expectedBytes + " bytes; the file is truncated or corrupt");
            }
            TensorReader reader = new TensorReader(checkpoint, channel, LEGACY_HEADER_BYTES);
            return readLegacyTensors(config, reader);
        } catch (IOException e) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "cannot read checkpoint " + checkpoint + ": " + e.getMessage(), e);
        }
    }

    private static LlamaModel readLegacyTensors(ModelConfig c, TensorReader reader) throws IOException {
        int layers = c.nLayers();
        int dim = c.dim();
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        float[] embedding = reader.floats("token_embedding_table", (long) c.vocabSize() * dim);
        float[][] rmsAtt = reader.perLayer("rms_att_weight", layers, dim);
        float[][] wq = reader.perLayer("wq", layers, (long) dim * dim);
        float[][] wk = reader.perLayer("wk", layers, (long) kvDim * dim);
        float[][] wv = reader.perLayer("wv", layers, (long) kvDim * dim);
        float[][] wo = reader.perLayer("wo", layers, (long) dim * dim);
        float[][] rmsFfn = reader.perLayer("rms_ffn_weight", layers, dim);
        float[][] w1 = reader.perLayer("w1", layers, (long) hidden * dim);
        float[][] w2 = reader.perLayer("w2", layers, (long) dim * hidden);
        float[][] w3 = reader.perLayer("w3", layers, (long) hidden * dim);
        float[] rmsFinal = reader.floats("rms_final_weight", dim);
        // The legacy format stores precomputed RoPE tables (freq_cis_real/imag); they are recomputed instead.
        reader.skip((long) c.seqLen() * c.headSize() * Float.BYTES);
        float[] classifier = c.sharedClassifier() ? embedding : reader.floats("wcls", (long) c.vocabSize() * dim);
        return fromArrays(c, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier);
    }

    static LlamaModel fromArrays(ModelConfig c, float[] embedding, float[][] rmsAtt, float[][] wq, float[][] wk,
                                 float[][] wv, float[][] wo, float[][] rmsFfn, float[][] w1, float[][] w2,
                                 float[][] w3, float[] rmsFinal, float[] classifier) {
        int dim = c.dim();
        int kvDim = c.kvDim();
        int hidden = c.hiddenDim();
        return new LlamaModel(c, "fp32", embedding, rmsAtt, rmsFfn, rmsFinal,
                matrices(wq, dim, dim), matrices(wk, kvDim, dim), matrices(wv, kvDim, dim), matrices(wo, dim, dim),
                matrices(w1, hidden, dim), matrices(w2, dim, hidden), matrices(w3, hidden, dim),
                new FloatMatrix(c.vocabSize(), dim, classifier));
    }

    private static WeightMatrix[] matrices(float[][] data, int rows, int cols) {
        WeightMatrix[] result = new WeightMatrix[data.length];
        for (int i = 0; i < data.length; i++) {
            result[i] = new FloatMatrix(rows, cols, data[i]);
        }
        return result;
    }

    /** Size of a legacy checkpoint of this shape, including the RoPE tables and the separate classifier if any. */
    public static long legacyFileBytes(ModelConfig c) {
        long floats = c.parameterCount() + (long) c.seqLen() * c.headSize();
        return LEGACY_HEADER_BYTES + floats * Float.BYTES;
    }

    /** UNK, BOS and EOS: the rows scaled down in synthetic models. */
    private static final int SPECIAL_TOKENS = 3;
    private static final float SPECIAL_TOKEN_SCALE = 0.01f;

    /**
     * Deterministic random weights of any shape: the same config and seed always give the same model.
     * Matrix entries are uniform in +-1/sqrt(cols) so activations stay in a sane range; norms are 1.
     * The embedding and classifier rows of UNK, BOS and EOS are scaled down so the model practically
     * never ends a generation early: synthetic generations run to max_tokens, which load tests want.
     */
    public static LlamaModel synthetic(ModelConfig config, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        int layers = config.nLayers();
        int dim = config.dim();
        int kvDim = config.kvDim();
        int hidden = config.hiddenDim();
        float[] embedding = randomArray(random, (long) config.vocabSize() * dim, 1.0f);
        // With a shared classifier a random model predicts roughly its input token again; shrinking the
        // special tokens' rows keeps it from emitting BOS/EOS, so synthetic generations run their full length.
        for (int i = 0; i < SPECIAL_TOKENS * dim; i++) {
            embedding[i] *= SPECIAL_TOKEN_SCALE;
        }
        float[][] rmsAtt = ones(layers, dim);
        float[][] wq = randomLayers(random, layers, dim, dim);
        float[][] wk = randomLayers(random, layers, kvDim, dim);
        float[][] wv = randomLayers(random, layers, kvDim, dim);
        float[][] wo = randomLayers(random, layers, dim, dim);
        float[][] rmsFfn = ones(layers, dim);
        float[][] w1 = randomLayers(random, layers, hidden, dim);
        float[][] w2 = randomLayers(random, layers, dim, hidden);
        float[][] w3 = randomLayers(random, layers, hidden, dim);
        float[] rmsFinal = ones(1, dim)[0];
        float[] classifier = config.sharedClassifier() ? embedding
                : randomArray(random, (long) config.vocabSize() * dim, (float) (1.0 / Math.sqrt(dim)));
        if (!config.sharedClassifier()) {
            for (int i = 0; i < SPECIAL_TOKENS * dim; i++) {
                classifier[i] *= SPECIAL_TOKEN_SCALE;
            }
        }
        return fromArrays(config, embedding, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal, classifier);
    }

    private static float[][] randomLayers(SplittableRandom random, int layers, int rows, int cols) {
        float[][] result = new float[layers][];
        float bound = (float) (1.0 / Math.sqrt(cols));
        for (int l = 0; l < layers; l++) {
            result[l] = randomArray(random, (long) rows * cols, bound);
        }
        return result;
    }

    private static float[] randomArray(SplittableRandom random, long length, float bound) {
        float[] result = new float[Math.toIntExact(length)];
        for (int i = 0; i < result.length; i++) {
            result[i] = (float) ((random.nextDouble() * 2.0 - 1.0) * bound);
        }
        return result;
    }

    private static float[][] ones(int layers, int dim) {
        float[][] result = new float[layers][dim];
        for (float[] row : result) {
            java.util.Arrays.fill(row, 1.0f);
        }
        return result;
    }

    /**
     * An int8 copy of this model: every matrix (including the classifier) quantized with one float
     * scale per group of {@code groupSize} weights. Norm weights and the embedding table used for
     * lookups stay fp32.
     */
    public LlamaModel quantizeQ8(int groupSize) {
        if (groupSize < Q8Matrix.GROUP_SIZE_MIN || groupSize > Q8Matrix.GROUP_SIZE_MAX) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER, "groupSize is " + groupSize
                    + ", must be between " + Q8Matrix.GROUP_SIZE_MIN + " and " + Q8Matrix.GROUP_SIZE_MAX);
        }
        if (!"fp32".equals(precision)) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER, "model is already " + precision);
        }
        return new LlamaModel(config, "int8", tokenEmbedding, rmsAttention, rmsFeedForward, rmsFinal,
                quantizeAll(wq, groupSize), quantizeAll(wk, groupSize), quantizeAll(wv, groupSize),
                quantizeAll(wo, groupSize), quantizeAll(w1, groupSize), quantizeAll(w2, groupSize),
                quantizeAll(w3, groupSize), Q8Matrix.quantize((FloatMatrix) classifier, groupSize));
    }

    private static WeightMatrix[] quantizeAll(WeightMatrix[] source, int groupSize) {
        WeightMatrix[] result = new WeightMatrix[source.length];
        for (int i = 0; i < source.length; i++) {
            result[i] = Q8Matrix.quantize((FloatMatrix) source[i], groupSize);
        }
        return result;
    }

    /**
     * Writes this model: fp32 as a llama2.c legacy checkpoint, int8 in the engine's Q8 format
     * (see {@code Q8Checkpoint}); either loads back with {@link #load}.
     */
    public void save(Path target) {
        CheckpointWriter.write(this, target);
    }

    /** Matrix kinds per layer, in llama2.c order. */
    static final int MATRIX_KINDS = 7;

    static WeightMatrix matrixOfKind(LlamaModel model, int kind, int layer) {
        return switch (kind) {
            case 0 -> model.wq[layer];
            case 1 -> model.wk[layer];
            case 2 -> model.wv[layer];
            case 3 -> model.wo[layer];
            case 4 -> model.w1[layer];
            case 5 -> model.w2[layer];
            case 6 -> model.w3[layer];
            default -> throw new IllegalArgumentException("matrix kind " + kind);
        };
    }

    static String nameOfKind(int kind) {
        return new String[] {"wq", "wk", "wv", "wo", "w1", "w2", "w3"}[kind];
    }

    static int rowsOfKind(ModelConfig c, int kind) {
        return switch (kind) {
            case 0, 3, 5 -> c.dim();
            case 1, 2 -> c.kvDim();
            default -> c.hiddenDim();
        };
    }

    static int colsOfKind(ModelConfig c, int kind) {
        return kind == 5 ? c.hiddenDim() : c.dim();
    }

    public ModelConfig config() {
        return config;
    }

    /** "fp32" or "int8". */
    public String precision() {
        return precision;
    }

    /** Bytes of weights read for one forward step (what bounds single-stream speed). */
    public long weightBytesPerStep() {
        long total = classifier.weightBytes();
        for (int l = 0; l < config.nLayers(); l++) {
            total += wq[l].weightBytes() + wk[l].weightBytes() + wv[l].weightBytes() + wo[l].weightBytes()
                    + w1[l].weightBytes() + w2[l].weightBytes() + w3[l].weightBytes();
        }
        return total;
    }

    float[] tokenEmbedding() { return tokenEmbedding; }
    float[] rmsAttention(int layer) { return rmsAttention[layer]; }
    float[] rmsFeedForward(int layer) { return rmsFeedForward[layer]; }
    float[] rmsFinal() { return rmsFinal; }
    WeightMatrix wq(int layer) { return wq[layer]; }
    WeightMatrix wk(int layer) { return wk[layer]; }
    WeightMatrix wv(int layer) { return wv[layer]; }
    WeightMatrix wo(int layer) { return wo[layer]; }
    WeightMatrix w1(int layer) { return w1[layer]; }
    WeightMatrix w2(int layer) { return w2[layer]; }
    WeightMatrix w3(int layer) { return w3[layer]; }
    WeightMatrix classifier() { return classifier; }
    float[] ropeCos() { return ropeCos; }
    float[] ropeSin() { return ropeSin; }

    static String describe(ModelConfig c) {
        return "(dim=" + c.dim() + ", hidden_dim=" + c.hiddenDim() + ", n_layers=" + c.nLayers() + ", n_heads="
                + c.nHeads() + ", n_kv_heads=" + c.nKvHeads() + ", vocab_size=" + c.vocabSize() + ", seq_len="
                + c.seqLen() + ", shared_classifier=" + c.sharedClassifier() + ")";
    }

    static InferenceException formatError(Path file, String problem) {
        return new InferenceException(InferenceException.Reason.MODEL_FORMAT, "checkpoint " + file + " " + problem);
    }

    static void readFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            int read = channel.read(buffer, at);
            if (read < 0) {
                throw new IOException("unexpected end of file at byte " + at);
            }
            at += read;
        }
    }

    /** Reads consecutive little-endian float tensors and rejects non-finite values, naming the tensor. */
    static final class TensorReader {
        private final Path file;
        private final FileChannel channel;
        private long position;

        TensorReader(Path file, FileChannel channel, long position) {
            this.file = file;
            this.channel = channel;
            this.position = position;
        }

        float[] floats(String tensor, long count) throws IOException {
            float[] result = new float[Math.toIntExact(count)];
            // Chunked so a large tensor does not need a second full-size buffer.
            int chunkFloats = 1 << 20;
            ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(count, chunkFloats) * Float.BYTES)
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int done = 0; done < result.length; ) {
                int n = Math.min(chunkFloats, result.length - done);
                buffer.clear().limit(n * Float.BYTES);
                readFully(channel, buffer, position);
                buffer.flip();
                buffer.asFloatBuffer().get(result, done, n);
                position += (long) n * Float.BYTES;
                done += n;
            }
            for (int i = 0; i < result.length; i++) {
                if (!Float.isFinite(result[i])) {
                    throw formatError(file, "has a non-finite value in tensor " + tensor + " at index " + i);
                }
            }
            return result;
        }

        float[][] perLayer(String tensor, int layers, long count) throws IOException {
            float[][] result = new float[layers][];
            for (int l = 0; l < layers; l++) {
                result[l] = floats(tensor + "[" + l + "]", count);
            }
            return result;
        }

        byte[] bytes(long count) throws IOException {
            byte[] result = new byte[Math.toIntExact(count)];
            ByteBuffer buffer = ByteBuffer.wrap(result);
            readFully(channel, buffer, position);
            position += count;
            return result;
        }

        void skip(long bytes) {
            position += bytes;
        }
    }
}
