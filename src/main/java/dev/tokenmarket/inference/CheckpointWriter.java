package dev.tokenmarket.inference;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes models to disk: fp32 models in the llama2.c legacy format (readable by llama2.c's
 * {@code run.c} too), int8 models in the engine's own Q8 format (see {@link Q8Checkpoint}).
 * Files are written to a temporary sibling and moved into place, so a crash never leaves a
 * half-written checkpoint under the final name.
 */
final class CheckpointWriter implements AutoCloseable {

    private static final int BUFFER_BYTES = 1 << 20;

    private final FileChannel channel;
    private final ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN);

    private CheckpointWriter(FileChannel channel) {
        this.channel = channel;
    }

    static void write(LlamaModel model, Path target) {
        Path temporary = target.resolveSibling(target.getFileName() + ".partial");
        try {
            try (CheckpointWriter writer = new CheckpointWriter(FileChannel.open(temporary, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE))) {
                if ("int8".equals(model.precision())) {
                    Q8Checkpoint.write(model, writer);
                } else {
                    writer.writeLegacy(model);
                }
                writer.flush();
                writer.channel.force(false);
            }
            Files.move(temporary, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException ignored) {
                // The original failure is the one worth reporting.
            }
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "cannot write checkpoint " + target + ": " + e.getMessage(), e);
        }
    }

    private void writeLegacy(LlamaModel model) throws IOException {
        ModelConfig c = model.config();
        writeInt(c.dim());
        writeInt(c.hiddenDim());
        writeInt(c.nLayers());
        writeInt(c.nHeads());
        writeInt(c.nKvHeads());
        writeInt(c.sharedClassifier() ? c.vocabSize() : -c.vocabSize());
        writeInt(c.seqLen());
        writeFloats(model.tokenEmbedding());
        for (int l = 0; l < c.nLayers(); l++) {
            writeFloats(model.rmsAttention(l));
        }
        writeLayers(model, 0);
        writeLayers(model, 1);
        writeLayers(model, 2);
        writeLayers(model, 3);
        for (int l = 0; l < c.nLayers(); l++) {
            writeFloats(model.rmsFeedForward(l));
        }
        writeLayers(model, 4);
        writeLayers(model, 5);
        writeLayers(model, 6);
        writeFloats(model.rmsFinal());
        // The legacy format's freq_cis_real and freq_cis_imag tables, (seq_len, head_size / 2) each.
        writeFloats(model.ropeCos());
        writeFloats(model.ropeSin());
        if (!c.sharedClassifier()) {
            writeFloats(((FloatMatrix) model.classifier()).data());
        }
    }

    /** Matrix kinds in llama2.c order: wq, wk, wv, wo, w1, w2, w3. */
    private void writeLayers(LlamaModel model, int kind) throws IOException {
        for (int l = 0; l < model.config().nLayers(); l++) {
            writeFloats(((FloatMatrix) LlamaModel.matrixOfKind(model, kind, l)).data());
        }
    }

    void writeInt(int value) throws IOException {
        ensure(Integer.BYTES);
        buffer.putInt(value);
    }

    void writeFloats(float[] values) throws IOException {
        for (float value : values) {
            ensure(Float.BYTES);
            buffer.putFloat(value);
        }
    }

    void writeBytes(byte[] values) throws IOException {
        int done = 0;
        while (done < values.length) {
            ensure(1);
            int n = Math.min(buffer.remaining(), values.length - done);
            buffer.put(values, done, n);
            done += n;
        }
    }

    private void ensure(int bytes) throws IOException {
        if (buffer.remaining() < bytes) {
            flush();
        }
    }

    private void flush() throws IOException {
        buffer.flip();
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        buffer.clear();
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
