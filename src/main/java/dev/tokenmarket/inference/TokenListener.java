package dev.tokenmarket.inference;

/** Receives generated text as it is produced. */
@FunctionalInterface
public interface TokenListener {

    /** A listener that only lets generation run to completion. */
    TokenListener IGNORE = piece -> true;

    /**
     * Called with each non-empty piece of decoded text, in order. Pieces never split a UTF-8
     * character and never contain (part of) a stop sequence.
     *
     * @return false to cancel the generation immediately, for example because the client went away
     */
    boolean onToken(String textPiece);
}
