package dev.tokenmarket.gateway;

import dev.tokenmarket.routing.Offer;

/**
 * Where an endpoint's tokens come from: the embedded reference engine, or an OpenAI-compatible upstream. The
 * spot flow sizes a request's hold with {@link #budget} and then calls {@link #serve}, without asking which
 * one it has; {@link Backends} finds the one an offer names.
 */
interface Backend {

    /** The catalog's name for this kind of backend, as endpoints list it in {@code backend.type}. */
    String type();

    /**
     * A request's largest use of an endpoint, which its hold and its key limits are sized by.
     *
     * @param promptTokensMax the prompt's tokens at most
     * @param maxTokens       completion tokens per choice at most
     */
    record Budget(int promptTokensMax, int maxTokens) {
    }

    /** The most {@code call} can use here; a 400 when its prompt and {@code max_tokens} cannot fit. */
    Budget budget(CompletionCall call, String promptText);

    /**
     * Produces the request's tokens, handing each to {@code sink} as it comes (a sink that refuses one stops
     * the generation). {@link UpstreamFailure} when it failed before its first token, so another endpoint can
     * be tried; {@link MidStreamFailure} when it failed after.
     */
    Served serve(Offer offer, CompletionCall call, String promptText, int maxTokens, TokenSink sink, long startedNanos)
            throws UpstreamFailure;
}
