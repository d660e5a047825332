package dev.tokenmarket.inference;

/** Receives every completion token with its log-probabilities; the richer form of {@link TokenListener}. */
@FunctionalInterface
public interface TokenStreamListener {

    /**
     * Called once per completion token, in order (not for the terminating EOS/BOS).
     *
     * @return false to cancel the generation immediately
     */
    boolean onToken(GeneratedToken token);
}
