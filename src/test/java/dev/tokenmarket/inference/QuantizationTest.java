package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class QuantizationTest {

    private static int[] greedyTokens(LlamaModel model, Tokenizer tokenizer, String prompt, int tokens) {
        try (ReferenceEngine engine = new ReferenceEngine("m", model, tokenizer, false,
                new EngineOptions(1, 1, 64, 1))) {
            return engine.generate(GenerationRequest.greedy(prompt, tokens), GenerationOptions.DEFAULTS, t -> true)
                    .tokens().stream().mapToInt(GeneratedToken::tokenId).toArray();
        }
    }

    private static int commonPrefix(int[] a, int[] b) {
        int n = 0;
        while (n < a.length && n < b.length && a[n] == b[n]) {
            n++;
        }
        return n;
    }

    @Test
    void int8GreedyMatchesFp32ForAtLeastTheFirst50Tokens() {
        // Proves Q8 quantization (groups of 32 and 64) keeps stories260K's greedy text identical for 50+ tokens.
        LlamaModel fp32 = TestModels.stories260K();
        Tokenizer tokenizer = TestModels.tokenizer512();
        int[] reference = greedyTokens(fp32, tokenizer, "", 256);
        for (int groupSize : new int[] {32, 64}) {
            int[] quantized = greedyTokens(fp32.quantizeQ8(groupSize), tokenizer, "", 256);
            int same = commonPrefix(reference, quantized);
            System.out.println("stories260K int8 group " + groupSize + ": greedy tokens identical to fp32 for "
                    + same + " of 256");
            assertTrue(same >= 50, "int8 (group " + groupSize + ") diverges from fp32 at token " + same);
        }
    }

    @Test
    void int8CheckpointSavesAndLoadsExactly(@TempDir Path directory) throws Exception {
        // Proves the Q8 file round-trips bit-exactly (same greedy tokens), has the documented size, and rejects truncation.
        LlamaModel quantized = TestModels.stories260K().quantizeQ8(32);
        Path file = directory.resolve("stories260K.q8");
        quantized.save(file);
        assertEquals(Q8Checkpoint.fileBytes(quantized.config(), 32), Files.size(file));
        LlamaModel loaded = LlamaModel.load(file);
        assertEquals("int8", loaded.precision());
        assertEquals(quantized.config(), loaded.config());
        Tokenizer tokenizer = TestModels.tokenizer512();
        assertArrayEquals(greedyTokens(quantized, tokenizer, "Lily", 80), greedyTokens(loaded, tokenizer, "Lily", 80));
        assertTrue(loaded.weightBytesPerStep() * 3 < TestModels.stories260K().weightBytesPerStep());

        byte[] bytes = Files.readAllBytes(file);
        Path truncated = directory.resolve("truncated.q8");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 1));
        InferenceException error = assertThrows(InferenceException.class, () -> LlamaModel.load(truncated));
        assertEquals(InferenceException.Reason.MODEL_FORMAT, error.reason());
        assertTrue(error.getMessage().contains("truncated"), error.getMessage());
    }

    @Test
    void fp32CheckpointWriterRoundTripsAnyShape(@TempDir Path directory) {
        // Proves the llama2.c writer produces files the loader accepts, with identical weights (same output).
        ModelConfig config = new ModelConfig(48, 100, 2, 6, 2, 300, 40, false);
        LlamaModel model = LlamaModel.synthetic(config, 5L);
        Path file = directory.resolve("synthetic.bin");
        model.save(file);
        LlamaModel loaded = LlamaModel.load(file);
        assertEquals(config, loaded.config());
        Tokenizer tokenizer = Tokenizer.synthetic(300);
        Path tokenizerFile = directory.resolve("tok300.bin");
        tokenizer.save(tokenizerFile);
        Tokenizer tokenizerLoaded = Tokenizer.load(tokenizerFile, 300);
        assertArrayEquals(tokenizer.encode("hello world", true, false), tokenizerLoaded.encode("hello world", true, false));
        assertArrayEquals(greedyTokens(model, tokenizer, "hi", 30), greedyTokens(loaded, tokenizerLoaded, "hi", 30));
        assertEquals(LlamaModel.legacyFileBytes(config), file.toFile().length());
    }
}
