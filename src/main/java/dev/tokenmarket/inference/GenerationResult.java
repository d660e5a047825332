package dev.tokenmarket.inference;

/**
 * Outcome of one generation.
 *
 * @param text             the whole completion text (without any stop sequence)
 * @param promptTokens     prompt tokens including BOS
 * @param completionTokens tokens sampled as completion; the terminating EOS/BOS token is not counted
 * @param finishReason     {@link #STOP}, {@link #LENGTH} or {@link #CANCELLED}
 */
public record GenerationResult(String text, int promptTokens, int completionTokens, String finishReason) {

    /** The model emitted EOS or BOS, or a stop sequence appeared. */
    public static final String STOP = "stop";
    /** maxTokens reached or the context window is full. */
    public static final String LENGTH = "length";
    /** The listener returned false. */
    public static final String CANCELLED = "cancelled";
}
