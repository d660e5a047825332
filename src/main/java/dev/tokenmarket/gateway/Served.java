package dev.tokenmarket.gateway;

import dev.tokenmarket.inference.GeneratedToken;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.routing.Offer;

import java.util.List;

/**
 * What a backend produced for one request.
 *
 * @param choices          one per requested choice ({@code n}), in index order
 * @param promptTokens     prompt tokens billed (once, whatever n is)
 * @param completionTokens completion tokens of all choices together
 * @param ttftNanos        from the request's arrival to its first token
 * @param cancelled        the client went away and the generation was stopped early
 */
public record Served(List<Choice> choices, int promptTokens, int completionTokens, long ttftNanos, boolean cancelled) {

    /**
     * @param tokens every token with its log-probabilities, when the request asked for them; else empty
     */
    public record Choice(int index, String text, String finishReason, List<GeneratedToken> tokens) {
    }

    /** The finish reason of the first choice, which the generation record keeps. */
    public String finishReason() {
        return choices.isEmpty() ? "error" : choices.getFirst().finishReason();
    }

    public Served withTokens(int prompt, int completion) {
        return new Served(choices, prompt, completion, ttftNanos, cancelled);
    }

    /** What these tokens cost at the offer's prices. */
    public long costNanoUsd(Offer offer) {
        return Money.cost(promptTokens, offer.promptPriceNanoUsdPerMillionTokens(),
                completionTokens, offer.completionPriceNanoUsdPerMillionTokens());
    }

    /** Keeps the tokens {@code holdNanoUsd} pays for, when an upstream reports more than its bound. */
    public Served cappedAt(long holdNanoUsd, Offer offer) {
        Served capped = this;
        while (capped.completionTokens() > 0 && capped.costNanoUsd(offer) > holdNanoUsd) {
            capped = capped.withTokens(capped.promptTokens(), capped.completionTokens() - 1);
        }
        while (capped.promptTokens() > 0 && capped.costNanoUsd(offer) > holdNanoUsd) {
            capped = capped.withTokens(capped.promptTokens() - 1, capped.completionTokens());
        }
        return capped;
    }
}
