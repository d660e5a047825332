package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {

    private static String roundTrip(Tokenizer tokenizer, String text) {
        int[] tokens = tokenizer.encode(text, true, false);
        return tokenizer.decode(tokens[0], Arrays.copyOfRange(tokens, 1, tokens.length));
    }

    @Test
    void asciiRoundTripsThroughEncodeAndDecode() {
        // Proves encode adds the dummy-prefix space and decode strips it again right after BOS.
        Tokenizer tokenizer = TestModels.tokenizer512();
        String text = "Once upon a time, there was a little girl named Lily.";
        assertEquals(text, roundTrip(tokenizer, text));
        int[] tokens = tokenizer.encode(text, true, true);
        assertEquals(Tokenizer.BOS, tokens[0]);
        assertEquals(Tokenizer.EOS, tokens[tokens.length - 1]);
        assertTrue(tokens.length < text.length() / 2, "BPE merges should compress ASCII text");
    }

    @Test
    void multiByteUtf8RoundTripsThroughByteFallback() {
        // Proves characters missing from the vocabulary use <0xXX> byte tokens and reassemble into the same text.
        Tokenizer tokenizer = TestModels.tokenizer512();
        String text = "héllo wörld ✓ 日本";
        int[] tokens = tokenizer.encode(text, true, false);
        long byteTokens = Arrays.stream(tokens).filter(t -> t >= 3 && t < 3 + 256).count();
        assertTrue(byteTokens >= 3 * 3, "✓ and 日本 must fall back to bytes, got " + Arrays.toString(tokens));
        assertEquals(text, roundTrip(tokenizer, text));
    }

    @Test
    void emptyTextEncodesToBosOnly() {
        // Proves no dummy prefix is added to empty text, matching llama2.c.
        assertArrayEquals(new int[] {Tokenizer.BOS}, TestModels.tokenizer512().encode("", true, false));
        assertArrayEquals(new int[0], TestModels.tokenizer512().encode("", false, false));
    }

    @Test
    void decodePieceFollowsLlama2cRules() {
        // Proves the leading space is stripped only after BOS and raw byte tokens decode to their byte.
        Tokenizer tokenizer = TestModels.tokenizer512();
        int once = tokenizer.encode("Once", false, false)[0];
        assertEquals("Once", tokenizer.decodePiece(Tokenizer.BOS, once));
        assertEquals(" Once", tokenizer.decodePiece(once, once));
        assertArrayEquals(new byte[] {(byte) 0xE2}, tokenizer.decodePieceBytes(once, 0xE2 + 3));
        assertEquals("A", tokenizer.decodePiece(once, 'A' + 3));
    }

    @Test
    void utf8StreamHoldsIncompleteCharactersUntilComplete() {
        // Proves a character split across byte tokens is released only once all its bytes arrived.
        byte[] check = "✓".getBytes(StandardCharsets.UTF_8);
        Utf8Stream stream = new Utf8Stream();
        assertEquals("a", stream.accept(new byte[] {'a', check[0]}));
        assertEquals("", stream.accept(new byte[] {check[1]}));
        assertEquals("✓b", stream.accept(new byte[] {check[2], 'b'}));
        assertEquals("", stream.accept(new byte[] {check[0]}));
        assertEquals("\uFFFD", stream.flush());
    }

    @Test
    void syntheticTokenizerIsDeterministicAndRoundTrips() {
        // Proves the synthetic vocabulary encodes any text (merging ASCII, byte fallback otherwise) reproducibly.
        Tokenizer first = Tokenizer.synthetic(32_000);
        Tokenizer second = Tokenizer.synthetic(32_000);
        String text = "héllo wörld ✓ 日本, the quick brown fox";
        assertArrayEquals(first.encode(text, true, false), second.encode(text, true, false));
        assertEquals(text, roundTrip(first, text));
        assertTrue(first.encode("the quick brown fox", false, false).length < 12);
        assertEquals(text, roundTrip(Tokenizer.synthetic(Tokenizer.SYNTHETIC_VOCAB_MIN), text));
    }

    @Test
    void truncatedTokenizerFileIsRejectedAsModelFormat(@TempDir Path directory) throws Exception {
        // Proves a cut-off tokenizer file fails loading with MODEL_FORMAT instead of a buffer exception.
        byte[] bytes = Files.readAllBytes(TestModels.TOKENIZER_512);
        Path truncated = directory.resolve("tok.bin");
        Files.write(truncated, Arrays.copyOf(bytes, bytes.length - 10));
        InferenceException error = assertThrows(InferenceException.class, () -> Tokenizer.load(truncated, 512));
        assertEquals(InferenceException.Reason.MODEL_FORMAT, error.reason());
        assertTrue(error.getMessage().contains("truncated"), error.getMessage());
    }
}
