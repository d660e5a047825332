package dev.tokenmarket.gateway;

/** What a backend produced for one request. */
public record Served(String text, int promptTokens, int completionTokens, String finishReason, long ttftNanos) {
}
