package dev.tokenmarket.inference;

import java.util.ArrayList;
import java.util.List;

/**
 * Caller-side half of a generation: turns sampled tokens into text (reassembling UTF-8 split
 * over byte tokens, cutting at stop sequences), hands it to the listener and decides when and why
 * the generation finishes. Not thread-safe; one per generate() call.
 */
final class CompletionAssembler {

    private final Tokenizer tokenizer;
    private final int completionMax;
    private final TokenStreamListener listener;
    private final boolean keepTokens;
    private final Utf8Stream utf8 = new Utf8Stream();
    private final StopMatcher stopMatcher;
    private final List<GeneratedToken> generated = new ArrayList<>();
    private int previousToken;
    private int completionCount;
    private String finishReason;

    CompletionAssembler(Tokenizer tokenizer, int lastPromptToken, int completionMax, List<String> stops,
                        TokenStreamListener listener, boolean keepTokens) {
        this.tokenizer = tokenizer;
        this.previousToken = lastPromptToken;
        this.completionMax = completionMax;
        this.stopMatcher = new StopMatcher(stops);
        this.listener = listener;
        this.keepTokens = keepTokens;
    }

    /**
     * Takes the next sampled token with its log-probabilities (NaN / empty when not requested).
     *
     * @return the finish reason once the generation is over, null to continue
     */
    String accept(int token, double logprob, int[] topTokens, double[] topLogprobs) {
        if (finishReason != null) {
            return finishReason;
        }
        if (token == Tokenizer.EOS || token == Tokenizer.BOS) {
            deliverRest(GenerationResult.STOP);
            return finishReason;
        }
        completionCount++;
        String text = stopMatcher.append(utf8.accept(tokenizer.decodePieceBytes(previousToken, token)));
        previousToken = token;
        if (stopMatcher.stopped()) {
            finishReason = GenerationResult.STOP;
            deliver(text, token, logprob, topTokens, topLogprobs);
            return finishReason;
        }
        if (completionCount >= completionMax) {
            text += stopMatcher.append(utf8.flush()) + stopMatcher.flush();
            finishReason = stopMatcher.stopped() ? GenerationResult.STOP : GenerationResult.LENGTH;
            deliver(text, token, logprob, topTokens, topLogprobs);
            return finishReason;
        }
        if (!deliver(text, token, logprob, topTokens, topLogprobs)) {
            finishReason = GenerationResult.CANCELLED;
        }
        return finishReason;
    }

    /** Ends the generation for a reason found outside the token stream (context full). */
    String finish(String reason) {
        if (finishReason == null) {
            deliverRest(reason);
        }
        return finishReason;
    }

    private void deliverRest(String reason) {
        String rest = stopMatcher.append(utf8.flush());
        rest += stopMatcher.flush();
        finishReason = stopMatcher.stopped() ? GenerationResult.STOP : reason;
        if (!rest.isEmpty()) {
            // Held-back text belongs to the last token already reported; a listener refusing it changes nothing.
            listener.onToken(new GeneratedToken(rest, -1, "", Double.NaN, List.of()));
        }
    }

    private boolean deliver(String text, int token, double logprob, int[] topTokens, double[] topLogprobs) {
        List<TopLogprob> top = new ArrayList<>(topTokens.length);
        for (int i = 0; i < topTokens.length; i++) {
            top.add(new TopLogprob(topTokens[i], tokenizer.decodePiece(-1, topTokens[i]), topLogprobs[i]));
        }
        GeneratedToken item = new GeneratedToken(text, token, tokenizer.decodePiece(-1, token), logprob, List.copyOf(top));
        if (keepTokens) {
            generated.add(item);
        }
        return listener.onToken(item);
    }

    String finishReason() {
        return finishReason;
    }

    int completionCount() {
        return completionCount;
    }

    /** The completion text; for a cancelled generation only what the listener was given. */
    String text() {
        return GenerationResult.CANCELLED.equals(finishReason) ? stopMatcher.releasedText() : stopMatcher.text();
    }

    List<GeneratedToken> generated() {
        return generated;
    }
}
