package dev.tokenmarket.inference;

/**
 * A likely alternative at one position.
 *
 * @param tokenId the token id
 * @param token   the token's text as the tokenizer stores it (a lone byte of a multi-byte character shows as U+FFFD)
 * @param logprob natural log of its probability
 */
public record TopLogprob(int tokenId, String token, double logprob) {
}
