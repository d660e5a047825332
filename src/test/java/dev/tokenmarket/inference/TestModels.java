package dev.tokenmarket.inference;

import java.nio.file.Path;

/** The shared reference model files, read from ../shared/models relative to the project directory. */
final class TestModels {

    static final Path DIRECTORY = Path.of("../shared/models");
    static final Path STORIES_260K = DIRECTORY.resolve("stories260K.bin");
    static final Path TOKENIZER_512 = DIRECTORY.resolve("tok512.bin");

    private static LlamaModel stories;
    private static Tokenizer tokenizer;
    private static ReferenceEngine storiesEngine;

    private TestModels() {
    }

    static synchronized LlamaModel stories260K() {
        if (stories == null) {
            stories = LlamaModel.load(STORIES_260K);
        }
        return stories;
    }

    static synchronized Tokenizer tokenizer512() {
        if (tokenizer == null) {
            tokenizer = Tokenizer.load(TOKENIZER_512, 512);
        }
        return tokenizer;
    }

    /** One engine shared by the tests (its scheduler thread lives for the whole test run). */
    static synchronized ReferenceEngine storiesEngine() {
        if (storiesEngine == null) {
            storiesEngine = new ReferenceEngine("stories260K", stories260K(), tokenizer512(), false);
        }
        return storiesEngine;
    }

    /** A small synthetic engine with a short context, for validation tests; shared per context length. */
    static synchronized ReferenceEngine syntheticEngine(int seqLen) {
        return SYNTHETIC_ENGINES.computeIfAbsent(seqLen, length -> {
            ModelConfig config = new ModelConfig(32, 64, 2, 4, 2, 300, length, true);
            return new ReferenceEngine("synthetic", LlamaModel.synthetic(config, 7L), Tokenizer.synthetic(300), true);
        });
    }

    private static final java.util.Map<Integer, ReferenceEngine> SYNTHETIC_ENGINES = new java.util.HashMap<>();
}
