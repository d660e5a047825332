package dev.tokenmarket.inference;

import java.util.List;

/**
 * Result of {@link ReferenceEngine#generate(GenerationRequest, GenerationOptions, TokenStreamListener)}.
 *
 * @param result the usual summary
 * @param tokens every completion token with log-probabilities when requested (empty text entries included)
 */
public record GenerationOutput(GenerationResult result, List<GeneratedToken> tokens) {
}
