package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GenerationTest {

    private static GenerationRequest sampled(String prompt, int maxTokens, long seed) {
        return new GenerationRequest(prompt, maxTokens, 1.0, 0.9, 40, seed, List.of());
    }

    @Test
    void seededSamplingIsReproducible() {
        // Proves the same seed gives the same text and a different seed (almost surely) a different one.
        ReferenceEngine engine = TestModels.storiesEngine();
        GenerationResult first = engine.generate(sampled("Once upon a time", 120, 42L), null);
        GenerationResult second = engine.generate(sampled("Once upon a time", 120, 42L), null);
        GenerationResult other = engine.generate(sampled("Once upon a time", 120, 43L), null);
        assertEquals(first, second);
        assertNotEquals(first.text(), other.text());
    }

    @Test
    void topKOneAndTinyTopPAreGreedy() {
        // Proves top-k=1 and a nucleus holding only the best token both reduce sampling to argmax.
        ReferenceEngine engine = TestModels.storiesEngine();
        String greedy = engine.generate(GenerationRequest.greedy("The cat", 60), null).text();
        String topK = engine.generate(new GenerationRequest("The cat", 60, 0.8, 1.0, 1, 5L, List.of()), null).text();
        String topP = engine.generate(new GenerationRequest("The cat", 60, 0.8, 1e-6, 0, 5L, List.of()), null).text();
        assertEquals(greedy, topK);
        assertEquals(greedy, topP);
    }

    @Test
    void listenerReturningFalseCancelsImmediately() {
        // Proves cancellation stops after the refusing piece and reports the tokens produced so far.
        List<String> pieces = new ArrayList<>();
        GenerationResult result = TestModels.storiesEngine().generate(GenerationRequest.greedy("", 100), piece -> {
            pieces.add(piece);
            return pieces.size() < 3;
        });
        assertEquals(GenerationResult.CANCELLED, result.finishReason());
        assertEquals(3, pieces.size());
        assertEquals(3, result.completionTokens());
        assertEquals(String.join("", pieces), result.text());
    }

    @Test
    void stopSequenceCutsTextBeforeItAndNeverStreamsIt() {
        // Proves a stop sequence ends generation with "stop" and no part of it reaches the listener.
        StringBuilder streamed = new StringBuilder();
        GenerationRequest request = new GenerationRequest("", 256, 0.0, 1.0, 0, null, List.of("Lily", "zzz"));
        GenerationResult result = TestModels.storiesEngine().generate(request, piece -> {
            streamed.append(piece);
            return true;
        });
        assertEquals("Once upon a time, there was a little girl named ", result.text());
        assertEquals(result.text(), streamed.toString());
        assertEquals(GenerationResult.STOP, result.finishReason());
    }

    @Test
    void countTokensMatchesPromptTokensOfGenerate() {
        // Proves countTokens counts exactly what generate bills as prompt tokens, BOS included.
        ReferenceEngine engine = TestModels.storiesEngine();
        String prompt = "Lily and Ben went to the park. ✓";
        GenerationResult result = engine.generate(GenerationRequest.greedy(prompt, 3), null);
        assertEquals(engine.countTokens(prompt), result.promptTokens());
        assertEquals(1, engine.countTokens(""));
    }

    @Test
    void maxTokensZeroFillsTheContextWindow() {
        // Proves maxTokens <= 0 means the rest of the context, ending with "length" unless EOS comes first.
        ReferenceEngine engine = TestModels.syntheticEngine(24);
        GenerationResult result = engine.generate(new GenerationRequest("ab", 0, 1.0, 1.0, 0, 3L, null), null);
        int prompt = engine.countTokens("ab");
        assertTrue(result.completionTokens() <= 24 - prompt);
        if (GenerationResult.LENGTH.equals(result.finishReason())) {
            assertEquals(24 - prompt, result.completionTokens());
        }
    }

    @Test
    void syntheticModelGeneratesDeterministically() {
        // Proves a seeded synthetic model and tokenizer give identical output across independent instances.
        ModelConfig config = new ModelConfig(48, 96, 2, 6, 3, 400, 64, true);
        try (ReferenceEngine a = new ReferenceEngine("s", LlamaModel.synthetic(config, 11L), Tokenizer.synthetic(400), true);
             ReferenceEngine b = new ReferenceEngine("s", LlamaModel.synthetic(config, 11L), Tokenizer.synthetic(400), true)) {
            GenerationResult greedyA = a.generate(GenerationRequest.greedy("hello", 40), null);
            GenerationResult greedyB = b.generate(GenerationRequest.greedy("hello", 40), null);
            assertEquals(greedyA, greedyB);
            assertEquals(greedyA, a.generate(GenerationRequest.greedy("hello", 40), null));
            GenerationResult sampledA = a.generate(sampled("hello", 40, 9L), null);
            assertEquals(sampledA, b.generate(sampled("hello", 40, 9L), null));
        }
    }

    @Test
    void penaltiesAndLogprobsAreReported() {
        // Proves logprobs are valid log-probabilities, top alternatives are sorted, and greedy picks the best one.
        ReferenceEngine engine = TestModels.storiesEngine();
        GenerationOptions options = new GenerationOptions(0, 0, true, 5, 0);
        GenerationOutput output = engine.generate(GenerationRequest.greedy("", 20), options, token -> true);
        assertEquals(20, output.tokens().size());
        for (GeneratedToken token : output.tokens()) {
            assertTrue(token.logprob() <= 0 && token.logprob() > -50, "logprob " + token.logprob());
            assertEquals(5, token.topLogprobs().size());
            assertEquals(token.tokenId(), token.topLogprobs().get(0).tokenId());
            for (int i = 1; i < 5; i++) {
                assertTrue(token.topLogprobs().get(i - 1).logprob() >= token.topLogprobs().get(i).logprob());
            }
        }
        GenerationOptions penalised = new GenerationOptions(2.0, 2.0, false, 0, 0);
        String plain = engine.generate(GenerationRequest.greedy("", 80), null).text();
        String varied = engine.generate(GenerationRequest.greedy("", 80), penalised, t -> true).result().text();
        assertNotEquals(plain, varied);
    }
}
