package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValidationTest {

    private static InferenceException refused(ReferenceEngine engine, GenerationRequest request) {
        return assertThrows(InferenceException.class, () -> engine.generate(request, piece -> true));
    }

    @Test
    void outOfRangeSamplingParametersAreInvalidAndNamed() {
        // Proves each bad sampling field is rejected as INVALID_PARAMETER with a message naming it.
        ReferenceEngine engine = TestModels.syntheticEngine(64);
        Object[][] cases = {
                {new GenerationRequest("a", 5, -0.1, 1.0, 0, null, null), "temperature"},
                {new GenerationRequest("a", 5, 1.0, 0.0, 0, null, null), "top_p"},
                {new GenerationRequest("a", 5, 1.0, 1.5, 0, null, null), "top_p"},
                {new GenerationRequest("a", 5, 1.0, Double.NaN, 0, null, null), "top_p"},
                {new GenerationRequest("a", 5, 1.0, 1.0, -1, null, null), "top_k"},
                {new GenerationRequest(null, 5, 1.0, 1.0, 0, null, null), "prompt"},
                {new GenerationRequest("a", 5, 1.0, 1.0, 0, null, List.of("")), "stop[0]"},
                {new GenerationRequest("a", 5, 1.0, 1.0, 0, null, List.of("a", "b", "c", "d", "e")), "stop"},
        };
        for (Object[] c : cases) {
            InferenceException error = refused(engine, (GenerationRequest) c[0]);
            assertEquals(InferenceException.Reason.INVALID_PARAMETER, error.reason());
            assertTrue(error.getMessage().contains((String) c[1]), error.getMessage());
        }
        InferenceException penalty = assertThrows(InferenceException.class, () -> engine.generate(
                GenerationRequest.greedy("a", 3), new GenerationOptions(3, 0, false, 0, 0), t -> true));
        assertTrue(penalty.getMessage().contains("presence_penalty"), penalty.getMessage());
    }

    @Test
    void promptThatFillsTheContextIsTooLong() {
        // Proves a prompt of seqLen tokens or more is refused, naming its size and the limit.
        ReferenceEngine engine = TestModels.syntheticEngine(16);
        String prompt = "日本語".repeat(10);
        int tokens = engine.countTokens(prompt);
        InferenceException error = refused(engine, GenerationRequest.greedy(prompt, 1));
        assertEquals(InferenceException.Reason.PROMPT_TOO_LONG, error.reason());
        assertTrue(error.getMessage().contains(tokens + " tokens") && error.getMessage().contains("16"),
                error.getMessage());
    }

    @Test
    void promptPlusMaxTokensBeyondContextIsTooLong() {
        // Proves prompt + max_tokens > seqLen is refused with both numbers and the limit in the message.
        ReferenceEngine engine = TestModels.syntheticEngine(16);
        int prompt = engine.countTokens("ab");
        InferenceException error = refused(engine, GenerationRequest.greedy("ab", 17 - prompt));
        assertEquals(InferenceException.Reason.PROMPT_TOO_LONG, error.reason());
        assertTrue(error.getMessage().contains("(" + prompt + " tokens)"), error.getMessage());
        assertTrue(error.getMessage().contains("(" + (17 - prompt) + ")"), error.getMessage());
        assertTrue(error.getMessage().contains("16"), error.getMessage());
        InferenceException huge = refused(engine, GenerationRequest.greedy("ab", Integer.MAX_VALUE));
        assertTrue(huge.getMessage().contains(String.valueOf((long) prompt + Integer.MAX_VALUE)), huge.getMessage());
        GenerationResult exact = engine.generate(GenerationRequest.greedy("ab", 16 - prompt), null);
        assertTrue(exact.completionTokens() <= 16 - prompt, "exactly filling the context is allowed");
    }

    @Test
    void truncatedCheckpointIsModelFormat(@TempDir Path directory) throws Exception {
        // Proves a checkpoint shorter than its header promises is refused, naming both sizes.
        byte[] bytes = Files.readAllBytes(TestModels.STORIES_260K);
        Path truncated = directory.resolve("truncated.bin");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 4096));
        InferenceException error = assertThrows(InferenceException.class, () -> LlamaModel.load(truncated));
        assertEquals(InferenceException.Reason.MODEL_FORMAT, error.reason());
        assertTrue(error.getMessage().contains(String.valueOf(bytes.length - 4096))
                && error.getMessage().contains(String.valueOf(bytes.length)), error.getMessage());
    }

    @Test
    void corruptHeaderAndNonFiniteWeightsAreModelFormat(@TempDir Path directory) throws Exception {
        // Proves an impossible shape and a NaN weight are both reported as MODEL_FORMAT with the cause named.
        byte[] bytes = Files.readAllBytes(TestModels.STORIES_260K);
        byte[] badHeader = bytes.clone();
        ByteBuffer.wrap(badHeader).order(ByteOrder.LITTLE_ENDIAN).putInt(12, 7);
        Path header = directory.resolve("header.bin");
        Files.write(header, badHeader);
        InferenceException headerError = assertThrows(InferenceException.class, () -> LlamaModel.load(header));
        assertEquals(InferenceException.Reason.MODEL_FORMAT, headerError.reason());
        assertTrue(headerError.getMessage().contains("nHeads"), headerError.getMessage());

        byte[] nan = bytes.clone();
        ByteBuffer.wrap(nan).order(ByteOrder.LITTLE_ENDIAN).putFloat(28 + 4 * 100, Float.NaN);
        Path nanFile = directory.resolve("nan.bin");
        Files.write(nanFile, nan);
        InferenceException nanError = assertThrows(InferenceException.class, () -> LlamaModel.load(nanFile));
        assertTrue(nanError.getMessage().contains("token_embedding_table"), nanError.getMessage());

        Path tiny = directory.resolve("tiny.bin");
        Files.write(tiny, new byte[10]);
        assertEquals(InferenceException.Reason.MODEL_FORMAT,
                assertThrows(InferenceException.class, () -> LlamaModel.load(tiny)).reason());
        assertEquals(InferenceException.Reason.MODEL_FORMAT, assertThrows(InferenceException.class,
                () -> LlamaModel.load(directory.resolve("missing.bin"))).reason());
    }

    @Test
    void chatTemplateJoinsContentsWithNewlines() {
        // Proves the documented template: contents joined by "\n", roles not rendered, empty input refused.
        assertEquals("be brief\nhi\nhello", ChatTemplate.render(List.of(new ChatMessage("system", "be brief"),
                new ChatMessage("user", "hi"), new ChatMessage("assistant", "hello"))));
        assertEquals("", ChatTemplate.render(List.of(new ChatMessage("user", ""))));
        assertEquals(InferenceException.Reason.INVALID_PARAMETER,
                assertThrows(InferenceException.class, () -> ChatTemplate.render(List.of())).reason());
    }
}
