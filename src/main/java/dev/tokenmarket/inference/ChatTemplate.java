package dev.tokenmarket.inference;

import java.util.List;

/**
 * Turns a chat conversation into a prompt. The reference models (TinyStories) are not chat-tuned,
 * so the template is deliberately plain: the message contents joined with a newline, roles not
 * rendered. A single user message with empty content therefore renders to the empty prompt, which
 * continues from BOS exactly like the golden run of the reference C implementation.
 */
public final class ChatTemplate {

    /** Bounds the work done before tokenization; longer conversations cannot fit any context anyway. */
    public static final int MESSAGES_MAX = 1_024;

    private ChatTemplate() {
    }

    public static String render(List<ChatMessage> messages) {
        if (messages == null || messages.isEmpty()) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "messages must contain at least one message");
        }
        if (messages.size() > MESSAGES_MAX) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "messages has " + messages.size() + " entries, at most " + MESSAGES_MAX + " are allowed");
        }
        StringBuilder prompt = new StringBuilder();
        for (int i = 0; i < messages.size(); i++) {
            ChatMessage message = messages.get(i);
            if (message == null || message.content() == null) {
                throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                        "messages[" + i + "].content must be a string");
            }
            if (i > 0) {
                prompt.append('\n');
            }
            prompt.append(message.content());
        }
        return prompt.toString();
    }
}
