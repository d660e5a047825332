package dev.tokenmarket.gateway;

import dev.tokenmarket.inference.GeneratedToken;

/** Receives completion text as it is produced, for streaming responses. */
@FunctionalInterface
public interface TokenSink {

    /** Collects nothing: the non-streaming response is built from the whole result. */
    TokenSink NONE = (index, text, token) -> true;

    /**
     * @param index the choice the text belongs to
     * @param text  text released with this token (may be empty)
     * @param token the token with its log-probabilities, or null when the backend gives none
     * @return false when the client is gone: the backend stops generating
     */
    boolean accept(int index, String text, GeneratedToken token);
}
