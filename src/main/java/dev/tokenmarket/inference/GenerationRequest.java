package dev.tokenmarket.inference;

import java.util.List;

/**
 * What to generate. Values are validated by {@link ReferenceEngine#generate}, which names the
 * offending field, so a record can carry client input unchanged.
 *
 * @param prompt      text to continue; encoded with BOS in front
 * @param maxTokens   completion tokens at most; zero or negative means the rest of the context window
 * @param temperature 0 is greedy (argmax); higher values flatten the distribution
 * @param topP        nucleus sampling mass in (0, 1]; 1.0 disables it
 * @param topK        sample among the k most likely tokens; 0 disables it
 * @param seed        PRNG seed for reproducible sampling; null draws a random seed
 * @param stop        stop sequences (null or empty for none); the text is cut before the first one
 */
public record GenerationRequest(String prompt, int maxTokens, double temperature, double topP, int topK, Long seed,
                                List<String> stop) {

    /** Greedy decoding of {@code prompt} for at most {@code maxTokens} tokens, no stop sequences. */
    public static GenerationRequest greedy(String prompt, int maxTokens) {
        return new GenerationRequest(prompt, maxTokens, 0.0, 1.0, 0, null, List.of());
    }
}
