package dev.tokenmarket.inference;

/**
 * One message of a chat conversation.
 *
 * @param role    "system", "user" or "assistant"; not rendered by {@link ChatTemplate}
 * @param content the message text
 */
public record ChatMessage(String role, String content) {
}
