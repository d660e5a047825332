package dev.tokenmarket.inference;

/**
 * A request or a model file the engine cannot work with. The message names the field or the
 * problem so that a person (API client or operator) can act on it; {@link #reason()} lets
 * callers map it to a status code without parsing text.
 */
public final class InferenceException extends RuntimeException {

    /** Why the engine refused. */
    public enum Reason {
        /** The prompt alone, or the prompt plus the requested completion, does not fit the context window. */
        PROMPT_TOO_LONG,
        /** A request field is outside its documented range. */
        INVALID_PARAMETER,
        /** A checkpoint, tokenizer or model shape is corrupt, truncated or unsupported. */
        MODEL_FORMAT,
        /** Too many requests are already waiting for the engine; retrying later can succeed. */
        OVERLOADED
    }

    private static final long serialVersionUID = 1L;

    private final Reason reason;

    public InferenceException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public InferenceException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
