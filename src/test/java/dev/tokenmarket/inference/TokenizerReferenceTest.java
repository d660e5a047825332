package dev.tokenmarket.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class TokenizerReferenceTest {

    /** A direct transcription of llama2.c encode(): quadratic rescans, leftmost best pair first. */
    private static final class NaiveLlama2cEncoder {
        private final List<String> pieces = new ArrayList<>();
        private final List<Float> scores = new ArrayList<>();
        private final Map<String, Integer> ids = new HashMap<>();

        NaiveLlama2cEncoder(Path file, int vocabSize) throws Exception {
            ByteBuffer buffer = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            buffer.getInt();
            for (int i = 0; i < vocabSize; i++) {
                scores.add(buffer.getFloat());
                byte[] bytes = new byte[buffer.getInt()];
                buffer.get(bytes);
                String piece = new String(bytes, StandardCharsets.ISO_8859_1);
                pieces.add(piece);
                ids.putIfAbsent(piece, i);
            }
        }

        int[] encode(String text) {
            List<Integer> tokens = new ArrayList<>();
            tokens.add(1);
            byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
            if (utf8.length > 0) {
                tokens.add(ids.get(" "));
            }
            for (int i = 0; i < utf8.length; ) {
                int length = 1;
                while (i + length < utf8.length && length < 4 && (utf8[i + length] & 0xC0) == 0x80) {
                    length++;
                }
                Integer id = ids.get(new String(utf8, i, length, StandardCharsets.ISO_8859_1));
                if (id != null) {
                    tokens.add(id);
                } else {
                    for (int k = 0; k < length; k++) {
                        tokens.add((utf8[i + k] & 0xFF) + 3);
                    }
                }
                i += length;
            }
            while (true) {
                float best = -1e10f;
                int bestId = -1;
                int bestIndex = -1;
                for (int i = 1; i < tokens.size() - 1; i++) {
                    Integer id = ids.get(pieces.get(tokens.get(i)) + pieces.get(tokens.get(i + 1)));
                    if (id != null && scores.get(id) > best) {
                        best = scores.get(id);
                        bestId = id;
                        bestIndex = i;
                    }
                }
                if (bestIndex < 0) {
                    break;
                }
                tokens.set(bestIndex, bestId);
                tokens.remove(bestIndex + 1);
            }
            return tokens.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    @Test
    void heapBasedMergingEqualsTheQuadraticLlama2cAlgorithm() throws Exception {
        // Proves the O(n log n) BPE produces exactly llama2.c's tokens on prose and on random Unicode text.
        NaiveLlama2cEncoder reference = new NaiveLlama2cEncoder(TestModels.TOKENIZER_512, 512);
        Tokenizer tokenizer = TestModels.tokenizer512();
        SplittableRandom random = new SplittableRandom(8);
        String alphabet = "abcdefghijklmnopqrstuvwxyz      ,.!?'\"\nLTSO éö✓日本";
        List<String> texts = new ArrayList<>(List.of("", " ", "  ", "Once upon a time, there was a little girl.",
                "Lily's mom said, \"Lily, let's go to the park.\"", "aaaaaaaaaaaaaaaaaaaaaaaa", "héllo wörld ✓ 日本"));
        for (int i = 0; i < 300; i++) {
            StringBuilder text = new StringBuilder();
            int length = random.nextInt(60);
            for (int k = 0; k < length; k++) {
                text.append(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            texts.add(text.toString());
        }
        for (String text : texts) {
            assertArrayEquals(reference.encode(text), tokenizer.encode(text, true, false), "text: " + text);
        }
    }
}
