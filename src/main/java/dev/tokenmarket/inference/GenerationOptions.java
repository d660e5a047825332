package dev.tokenmarket.inference;

/**
 * Optional generation settings beyond {@link GenerationRequest}, with OpenAI semantics.
 *
 * @param presencePenalty     subtracted once from the logit of every token already generated, in [-2, 2]
 * @param frequencyPenalty    subtracted per occurrence from the logit of generated tokens, in [-2, 2]
 * @param logprobs            report the log-probability of each generated token
 * @param topLogprobs         also report this many most likely alternatives per token, 0..20 (needs logprobs)
 * @param tokensPerSecondMax  pace delivery to at most this many tokens per second; 0 means unpaced
 */
public record GenerationOptions(double presencePenalty, double frequencyPenalty, boolean logprobs, int topLogprobs,
                                double tokensPerSecondMax) {

    public static final double PENALTY_LIMIT = 2.0;
    public static final int TOP_LOGPROBS_MAX = 20;
    public static final double TOKENS_PER_SECOND_LIMIT = 1_000_000.0;

    /** No penalties, no log-probabilities, no pacing. */
    public static final GenerationOptions DEFAULTS = new GenerationOptions(0, 0, false, 0, 0);

    void validate() {
        requirePenalty("presence_penalty", presencePenalty);
        requirePenalty("frequency_penalty", frequencyPenalty);
        if (topLogprobs < 0 || topLogprobs > TOP_LOGPROBS_MAX) {
            throw invalid("top_logprobs is " + topLogprobs + ", must be between 0 and " + TOP_LOGPROBS_MAX);
        }
        if (topLogprobs > 0 && !logprobs) {
            throw invalid("top_logprobs is " + topLogprobs + " but logprobs is false; set logprobs to true");
        }
        if (!(tokensPerSecondMax >= 0 && tokensPerSecondMax <= TOKENS_PER_SECOND_LIMIT)) {
            throw invalid("max tokens per second is " + tokensPerSecondMax + ", must be between 0 (unpaced) and "
                    + TOKENS_PER_SECOND_LIMIT);
        }
    }

    private static void requirePenalty(String field, double value) {
        if (!(value >= -PENALTY_LIMIT && value <= PENALTY_LIMIT)) {
            throw invalid(field + " is " + value + ", must be between -2.0 and 2.0");
        }
    }

    private static InferenceException invalid(String message) {
        return new InferenceException(InferenceException.Reason.INVALID_PARAMETER, message);
    }
}
