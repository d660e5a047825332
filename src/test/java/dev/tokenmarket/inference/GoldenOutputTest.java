package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class GoldenOutputTest {

    /** Greedy output of the reference C implementation for an empty prompt (README of ../shared/models). */
    static final String GOLDEN = """
            Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.
            Lily's mom said, "Lily, let's go to the park." Lily was sad and didn't know what to do. She said, "I want to play with your ball, but I can't find it."
            Lily was sad and didn't know what to do. She said, "I'm sorry, Lily. I didn't know what to do."
            Lily didn't want to help her mom, so she said, "I'm sorry, mom. I didn't know what to do." Her mom said, "Don't worry, Lily. We can help you.""";

    @Test
    void greedyEmptyPromptMatchesReferenceImplementationByteForByte() {
        // Proves the forward pass, tokenizer decoding and greedy sampling reproduce llama2.c exactly:
        // llama2.c with steps=256 feeds positions 0..255 and prints the 256 tokens sampled there.
        ReferenceEngine engine = TestModels.storiesEngine();
        StringBuilder streamed = new StringBuilder();
        GenerationResult result = engine.generate(GenerationRequest.greedy("", 256), piece -> {
            streamed.append(piece);
            return true;
        });
        assertEquals(GOLDEN, result.text());
        assertEquals(new String(GOLDEN.getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8), streamed.toString());
        assertEquals(1, result.promptTokens());
        assertEquals(256, result.completionTokens());
        assertEquals(GenerationResult.LENGTH, result.finishReason());
    }

    @Test
    void maxTokens255StopsOneTokenShortOfTheGoldenText() {
        // Proves maxTokens counts completion tokens: 255 tokens are the golden text without its final ".".
        GenerationResult result = TestModels.storiesEngine().generate(GenerationRequest.greedy("", 255), null);
        assertEquals(GOLDEN.substring(0, GOLDEN.length() - 1), result.text());
        assertEquals(255, result.completionTokens());
    }

    @Test
    void chatTemplateWithOneEmptyUserMessageYieldsTheGoldenText() {
        // Proves the chat path reaches the same prompt as the raw empty prompt.
        String prompt = ChatTemplate.render(java.util.List.of(new ChatMessage("user", "")));
        GenerationResult result = TestModels.storiesEngine().generate(GenerationRequest.greedy(prompt, 256), null);
        assertEquals(GOLDEN, result.text());
    }
}
