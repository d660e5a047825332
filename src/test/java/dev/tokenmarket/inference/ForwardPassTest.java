package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForwardPassTest {

    private static float[] lastLogits(LlamaModel model, int[] tokens, int chunkTokens, int threads) {
        ModelConfig config = model.config();
        try (Compute compute = new Compute(Kernels.best(), threads)) {
            ForwardPass pass = new ForwardPass(model, compute, chunkTokens, 1);
            KvCache cache = new KvCache(config, tokens.length);
            float[] logits = null;
            for (int from = 0; from < tokens.length; from += chunkTokens) {
                int count = Math.min(chunkTokens, tokens.length - from);
                logits = pass.forward(List.of(new ForwardPass.Chunk(cache, tokens, from, count)));
            }
            return Arrays.copyOf(logits, config.vocabSize());
        }
    }

    @Test
    void promptInOneBatchEqualsTokenByToken() {
        // Proves batched (matrix-matrix) prompt processing gives bit-identical logits to one token per pass.
        LlamaModel model = TestModels.stories260K();
        int[] tokens = TestModels.tokenizer512().encode("Once upon a time, a little girl named Lily found a ball.",
                true, false);
        float[] single = lastLogits(model, tokens, 1, 1);
        assertArrayEquals(single, lastLogits(model, tokens, tokens.length, 1));
        assertArrayEquals(single, lastLogits(model, tokens, 5, 1));
        assertArrayEquals(single, lastLogits(model, tokens, tokens.length, 2));
    }

    @Test
    void parallelRowsEqualSingleThreadOnALargerModel() {
        // Proves splitting rows and heads over worker threads does not change any result bit.
        ModelConfig config = new ModelConfig(288, 768, 2, 6, 6, 2_000, 64, true);
        LlamaModel model = LlamaModel.synthetic(config, 3L);
        int[] tokens = {1, 300, 400, 500, 600, 700, 800, 900};
        float[] single = lastLogits(model, tokens, 1, 1);
        assertArrayEquals(single, lastLogits(model, tokens, tokens.length, 2));
        assertArrayEquals(single, lastLogits(model, tokens, 3, 2));
    }
}
