package dev.tokenmarket.inference;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

/**
 * The engine's int8 checkpoint format, little-endian:
 * <pre>
 *   int32 magic "TMQ8" (0x38514D54), int32 version (1),
 *   int32 dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
 *   int32 shared_classifier (0 or 1), int32 group_size,
 *   fp32 token_embedding (vocab, dim), rms_att (layers, dim), rms_ffn (layers, dim), rms_final (dim),
 *   then per matrix, in the order wq, wk, wv, wo, w1, w2, w3 (each for every layer) and the classifier:
 *   int8 quants (rows, cols), fp32 scales (rows, ceil(cols / group_size)).
 * </pre>
 * The file size must match the header exactly.
 */
final class Q8Checkpoint {

    static final int MAGIC = 0x38514D54;
    static final int VERSION = 1;
    static final int HEADER_BYTES = 11 * Integer.BYTES;

    private Q8Checkpoint() {
    }

    static void write(LlamaModel model, CheckpointWriter writer) throws IOException {
        ModelConfig c = model.config();
        Q8Matrix classifier = (Q8Matrix) model.classifier();
        writer.writeInt(MAGIC);
        writer.writeInt(VERSION);
        writer.writeInt(c.dim());
        writer.writeInt(c.hiddenDim());
        writer.writeInt(c.nLayers());
        writer.writeInt(c.nHeads());
        writer.writeInt(c.nKvHeads());
        writer.writeInt(c.vocabSize());
        writer.writeInt(c.seqLen());
        writer.writeInt(c.sharedClassifier() ? 1 : 0);
        writer.writeInt(classifier.groupSize());
        writer.writeFloats(model.tokenEmbedding());
        for (int l = 0; l < c.nLayers(); l++) {
            writer.writeFloats(model.rmsAttention(l));
        }
        for (int l = 0; l < c.nLayers(); l++) {
            writer.writeFloats(model.rmsFeedForward(l));
        }
        writer.writeFloats(model.rmsFinal());
        for (int kind = 0; kind < LlamaModel.MATRIX_KINDS; kind++) {
            for (int l = 0; l < c.nLayers(); l++) {
                Q8Matrix matrix = (Q8Matrix) LlamaModel.matrixOfKind(model, kind, l);
                writer.writeBytes(matrix.quants());
                writer.writeFloats(matrix.scales());
            }
        }
        writer.writeBytes(classifier.quants());
        writer.writeFloats(classifier.scales());
    }

    static long fileBytes(ModelConfig c, int groupSize) {
        long bytes = HEADER_BYTES;
        bytes += 4L * ((long) c.vocabSize() * c.dim() + 2L * c.nLayers() * c.dim() + c.dim());
        long perLayer = matrixBytes(c.dim(), c.dim(), groupSize) * 2 + matrixBytes(c.kvDim(), c.dim(), groupSize) * 2
                + matrixBytes(c.hiddenDim(), c.dim(), groupSize) * 2 + matrixBytes(c.dim(), c.hiddenDim(), groupSize);
        return bytes + perLayer * c.nLayers() + matrixBytes(c.vocabSize(), c.dim(), groupSize);
    }

    private static long matrixBytes(int rows, int cols, int groupSize) {
        return (long) rows * cols + 4L * rows * Q8Matrix.groupsPerRow(cols, groupSize);
    }

    static LlamaModel read(Path file, FileChannel channel) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        if (channel.size() < HEADER_BYTES) {
            throw LlamaModel.formatError(file, "is " + channel.size() + " bytes, shorter than the Q8 header");
        }
        LlamaModel.readFully(channel, header, 0);
        header.flip();
        header.getInt();
        int version = header.getInt();
        if (version != VERSION) {
            throw LlamaModel.formatError(file, "has Q8 format version " + version + ", this engine reads " + VERSION);
        }
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) {
            h[i] = header.getInt();
        }
        int shared = header.getInt();
        int groupSize = header.getInt();
        if ((shared != 0 && shared != 1) || groupSize < Q8Matrix.GROUP_SIZE_MIN || groupSize > Q8Matrix.GROUP_SIZE_MAX) {
            throw LlamaModel.formatError(file, "has an invalid Q8 header (shared_classifier " + shared
                    + ", group_size " + groupSize + ")");
        }
        ModelConfig c;
        try {
            c = new ModelConfig(h[0], h[1], h[2], h[3], h[4], h[5], h[6], shared == 1);
        } catch (InferenceException e) {
            throw LlamaModel.formatError(file, "has an unusable header: " + e.getMessage());
        }
        long expected = fileBytes(c, groupSize);
        if (channel.size() != expected) {
            throw LlamaModel.formatError(file, "is " + channel.size() + " bytes but its Q8 header "
                    + LlamaModel.describe(c) + " with group size " + groupSize + " requires exactly " + expected
                    + " bytes; the file is truncated or corrupt");
        }
        LlamaModel.TensorReader reader = new LlamaModel.TensorReader(file, channel, HEADER_BYTES);
        int layers = c.nLayers();
        float[] embedding = reader.floats("token_embedding_table", (long) c.vocabSize() * c.dim());
        float[][] rmsAtt = reader.perLayer("rms_att_weight", layers, c.dim());
        float[][] rmsFfn = reader.perLayer("rms_ffn_weight", layers, c.dim());
        float[] rmsFinal = reader.floats("rms_final_weight", c.dim());
        WeightMatrix[][] matrices = new WeightMatrix[LlamaModel.MATRIX_KINDS][layers];
        for (int kind = 0; kind < LlamaModel.MATRIX_KINDS; kind++) {
            int rows = LlamaModel.rowsOfKind(c, kind);
            int cols = LlamaModel.colsOfKind(c, kind);
            for (int l = 0; l < layers; l++) {
                matrices[kind][l] = readMatrix(reader, LlamaModel.nameOfKind(kind) + "[" + l + "]", rows, cols,
                        groupSize);
            }
        }
        Q8Matrix classifier = readMatrix(reader, "classifier", c.vocabSize(), c.dim(), groupSize);
        return new LlamaModel(c, "int8", embedding, rmsAtt, rmsFfn, rmsFinal, matrices[0], matrices[1], matrices[2],
                matrices[3], matrices[4], matrices[5], matrices[6], classifier);
    }

    private static Q8Matrix readMatrix(LlamaModel.TensorReader reader, String name, int rows, int cols, int groupSize)
            throws IOException {
        byte[] quants = reader.bytes((long) rows * cols);
        float[] scales = reader.floats(name + ".scales", (long) rows * Q8Matrix.groupsPerRow(cols, groupSize));
        return new Q8Matrix(rows, cols, groupSize, quants, scales);
    }
}
