package dev.tokenmarket.inference.bench;

import dev.tokenmarket.inference.LlamaModel;
import dev.tokenmarket.inference.ModelConfig;
import dev.tokenmarket.inference.Tokenizer;
import java.nio.file.Path;

/**
 * Writes a llama2.c legacy checkpoint with seeded random weights, plus a matching synthetic
 * tokenizer file, for benchmarks and load tests of any model shape.
 *
 * <pre>
 * java -cp ... dev.tokenmarket.inference.bench.CheckpointGenerator OUT.bin [dim hidden layers heads kvHeads vocab seqLen [seed]]
 * </pre>
 * Without a shape it writes the stories15M shape (288, 768, 6, 6, 6, 32000, 256). The tokenizer
 * goes to OUT.bin with the suffix ".tok.bin".
 */
public final class CheckpointGenerator {

    /** The shape of llama2.c's stories15M model. */
    public static final ModelConfig STORIES_15M_SHAPE = new ModelConfig(288, 768, 6, 6, 6, 32_000, 256, true);

    private CheckpointGenerator() {
    }

    public static void main(String[] args) {
        if (args.length != 1 && args.length != 8 && args.length != 9) {
            System.err.println("usage: CheckpointGenerator OUT.bin [dim hidden layers heads kvHeads vocab seqLen [seed]]");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        ModelConfig config = STORIES_15M_SHAPE;
        long seed = 42L;
        if (args.length >= 8) {
            int[] v = new int[7];
            for (int i = 0; i < 7; i++) {
                v[i] = Integer.parseInt(args[i + 1]);
            }
            config = new ModelConfig(v[0], v[1], v[2], v[3], v[4], v[5], v[6], true);
            if (args.length == 9) {
                seed = Long.parseLong(args[8]);
            }
        }
        LlamaModel.synthetic(config, seed).save(out);
        Path tokenizerFile = out.resolveSibling(out.getFileName() + ".tok.bin");
        Tokenizer.synthetic(config.vocabSize()).save(tokenizerFile);
        System.out.println("wrote " + out + " (" + LlamaModel.legacyFileBytes(config) + " bytes, " + config + ") and "
                + tokenizerFile);
    }
}
