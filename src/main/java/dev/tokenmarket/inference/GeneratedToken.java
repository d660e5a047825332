package dev.tokenmarket.inference;

import java.util.List;

/**
 * One completion token as delivered to a {@link TokenStreamListener}.
 *
 * @param text        text released to the client with this token; may be empty while a UTF-8 character or a
 *                    possible stop sequence is incomplete, and may include text held back from earlier tokens
 * @param tokenId     the sampled token id, or -1 for a final delivery of held-back text that belongs to no new
 *                    token (after EOS, or at the end when a possible stop sequence did not complete)
 * @param token       the token's own text (see {@link TopLogprob#token()})
 * @param logprob     its log-probability, or NaN when log-probabilities were not requested
 * @param topLogprobs the most likely alternatives, best first; empty unless requested
 */
public record GeneratedToken(String text, int tokenId, String token, double logprob, List<TopLogprob> topLogprobs) {
}
