package dev.tokenmarket.inference;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The llama2.c BPE tokenizer: a vocabulary of byte strings with merge scores. Encoding adds a
 * dummy-prefix space to non-empty text, starts from one token per UTF-8 character (falling back
 * to byte tokens {@code <0xXX>} at id byte+3), then repeatedly merges the adjacent pair whose
 * concatenation is in the vocabulary with the highest score. Immutable and thread-safe.
 */
public final class Tokenizer {

    /** Token ids fixed by the llama2.c / sentencepiece convention. */
    public static final int UNK = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    /** Byte-fallback tokens {@code <0x00>..<0xFF>} start at this id. */
    static final int BYTE_TOKEN_OFFSET = 3;
    /** Largest text encode() accepts; callers bound prompts far below this (see ReferenceEngine). */
    public static final int TEXT_BYTES_MAX = 16 << 20;
    private static final float MERGE_SCORE_FLOOR = -1e10f;
    /** Longest vocabulary entry accepted from a file; real vocabularies stay far below. */
    public static final int TOKEN_BYTES_MAX = 1_024;

    // Vocabulary entries as bytes, and the same bytes as ISO-8859-1 strings (one char per byte) for lookups.
    private final byte[][] pieces;
    private final float[] scores;
    private final Map<String, Integer> idsByPiece;
    private final String[] pieceKeys;
    private final int pieceBytesMax;
    // For each id, the raw byte of a "<0xXX>" token, or -1.
    private final int[] rawBytes;

    private Tokenizer(byte[][] pieces, float[] scores) {
        this.pieces = pieces;
        this.scores = scores;
        this.idsByPiece = new HashMap<>(pieces.length * 2);
        this.rawBytes = new int[pieces.length];
        this.pieceKeys = new String[pieces.length];
        int longest = 1;
        for (int id = 0; id < pieces.length; id++) {
            String key = new String(pieces[id], StandardCharsets.ISO_8859_1);
            pieceKeys[id] = key;
            // The first id wins for duplicate strings, a fixed and documented choice.
            idsByPiece.putIfAbsent(key, id);
            longest = Math.max(longest, pieces[id].length);
            rawBytes[id] = parseRawByte(key);
        }
        this.pieceBytesMax = longest;
    }

    private static int parseRawByte(String piece) {
        if (piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">")) {
            try {
                return Integer.parseInt(piece.substring(3, 5), 16);
            } catch (NumberFormatException e) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * Reads a llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32
     * byte length and the bytes.
     *
     * @throws InferenceException MODEL_FORMAT when the file is truncated or malformed
     */
    public static Tokenizer load(Path tokenizerFile, int vocabSize) {
        if (vocabSize < BYTE_TOKEN_OFFSET || vocabSize > ModelConfig.VOCAB_SIZE_MAX) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "tokenizer vocabSize " + vocabSize + " must be between 3 and " + ModelConfig.VOCAB_SIZE_MAX);
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(tokenizerFile);
        } catch (IOException e) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "cannot read tokenizer " + tokenizerFile + ": " + e.getMessage(), e);
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        byte[][] pieces = new byte[vocabSize][];
        float[] scores = new float[vocabSize];
        try {
            int maxTokenLength = buffer.getInt();
            if (maxTokenLength < 1 || maxTokenLength > TOKEN_BYTES_MAX) {
                throw tokenizerError(tokenizerFile, "declares max_token_length " + maxTokenLength);
            }
            for (int id = 0; id < vocabSize; id++) {
                scores[id] = buffer.getFloat();
                int length = buffer.getInt();
                if (length < 0 || length > maxTokenLength) {
                    throw tokenizerError(tokenizerFile, "token " + id + " has length " + length
                            + ", outside 0.." + maxTokenLength);
                }
                if (!Float.isFinite(scores[id])) {
                    throw tokenizerError(tokenizerFile, "token " + id + " has a non-finite score");
                }
                pieces[id] = new byte[length];
                buffer.get(pieces[id]);
            }
        } catch (java.nio.BufferUnderflowException e) {
            throw tokenizerError(tokenizerFile, "is truncated (" + bytes.length + " bytes) for " + vocabSize + " tokens");
        }
        if (buffer.hasRemaining()) {
            throw tokenizerError(tokenizerFile, "has " + buffer.remaining() + " bytes after " + vocabSize
                    + " tokens; does the vocabulary size match the model?");
        }
        return new Tokenizer(pieces, scores);
    }

    private static InferenceException tokenizerError(Path file, String problem) {
        return new InferenceException(InferenceException.Reason.MODEL_FORMAT, "tokenizer " + file + " " + problem);
    }

    /** Minimum vocabulary for {@link #synthetic}: the three specials and the 256 byte tokens. */
    public static final int SYNTHETIC_VOCAB_MIN = BYTE_TOKEN_OFFSET + 256;

    /**
     * A deterministic tokenizer for synthetic models: {@code <unk>, <s>, </s>}, the 256 byte tokens,
     * then printable ASCII characters, then strings of two, three, ... characters in a fixed
     * frequency-like order until the vocabulary is full. Every multi-character entry is reachable
     * by merging, and shorter entries score higher, so encoding behaves like a real BPE vocabulary.
     */
    public static Tokenizer synthetic(int vocabSize) {
        if (vocabSize < SYNTHETIC_VOCAB_MIN || vocabSize > ModelConfig.VOCAB_SIZE_MAX) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER, "synthetic tokenizer vocabSize "
                    + vocabSize + " must be between " + SYNTHETIC_VOCAB_MIN + " and " + ModelConfig.VOCAB_SIZE_MAX);
        }
        byte[][] pieces = new byte[vocabSize][];
        float[] scores = new float[vocabSize];
        pieces[UNK] = "<unk>".getBytes(StandardCharsets.US_ASCII);
        pieces[BOS] = "\n<s>\n".getBytes(StandardCharsets.US_ASCII);
        pieces[EOS] = "\n</s>\n".getBytes(StandardCharsets.US_ASCII);
        for (int b = 0; b < 256; b++) {
            pieces[BYTE_TOKEN_OFFSET + b] = String.format("<0x%02X>", b).getBytes(StandardCharsets.US_ASCII);
        }
        String alphabet = " etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ.,!?'\"-:;0123456789";
        StringBuilder all = new StringBuilder(alphabet);
        for (char c = 32; c < 127; c++) {
            if (alphabet.indexOf(c) < 0) {
                all.append(c);
            }
        }
        String chars = all.toString();
        int id = SYNTHETIC_VOCAB_MIN;
        // Enumerate strings by length, then by alphabet rank, until the vocabulary is full.
        for (int length = 1; id < vocabSize; length++) {
            int[] digits = new int[length];
            while (id < vocabSize) {
                StringBuilder piece = new StringBuilder(length);
                for (int d : digits) {
                    piece.append(chars.charAt(d));
                }
                pieces[id] = piece.toString().getBytes(StandardCharsets.US_ASCII);
                scores[id] = -id;
                id++;
                int position = length - 1;
                while (position >= 0 && ++digits[position] == chars.length()) {
                    digits[position] = 0;
                    position--;
                }
                if (position < 0) {
                    break;
                }
            }
        }
        return new Tokenizer(pieces, scores);
    }

    /** Writes this vocabulary as a llama2.c tokenizer file, loadable with {@link #load}. */
    public void save(Path target) {
        int length = 4;
        for (byte[] piece : pieces) {
            length += 8 + piece.length;
        }
        ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putInt(pieceBytesMax);
        for (int id = 0; id < pieces.length; id++) {
            buffer.putFloat(scores[id]);
            buffer.putInt(pieces[id].length);
            buffer.put(pieces[id]);
        }
        try {
            Files.write(target, buffer.array());
        } catch (IOException e) {
            throw new InferenceException(InferenceException.Reason.MODEL_FORMAT,
                    "cannot write tokenizer " + target + ": " + e.getMessage(), e);
        }
    }

    public int bos() {
        return BOS;
    }

    public int eos() {
        return EOS;
    }

    public int vocabSize() {
        return pieces.length;
    }

    /** Longest vocabulary entry in bytes; a text of n UTF-8 bytes needs at least n / this many tokens. */
    public int pieceBytesMax() {
        return pieceBytesMax;
    }

    /**
     * Encodes text exactly like llama2.c {@code encode()}.
     *
     * @param bos prepend BOS (1)
     * @param eos append EOS (2)
     */
    public int[] encode(String text, boolean bos, boolean eos) {
        if (text == null) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER, "text to encode must not be null");
        }
        if (text.length() > TEXT_BYTES_MAX) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "text to encode is " + text.length() + " characters, more than " + TEXT_BYTES_MAX);
        }
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[utf8.length + 3];
        int count = 0;
        if (bos) {
            tokens[count++] = BOS;
        }
        if (utf8.length > 0) {
            // The dummy prefix sentencepiece adds so that words at the start look like words mid-text.
            Integer space = idsByPiece.get(" ");
            if (space != null) {
                tokens[count++] = space;
            }
        }
        int i = 0;
        while (i < utf8.length) {
            int length = utf8SequenceLength(utf8, i);
            Integer id = idsByPiece.get(new String(utf8, i, length, StandardCharsets.ISO_8859_1));
            if (id != null) {
                tokens[count++] = id;
            } else {
                for (int k = 0; k < length; k++) {
                    tokens[count++] = (utf8[i + k] & 0xFF) + BYTE_TOKEN_OFFSET;
                }
            }
            i += length;
        }
        int start = bos ? 1 : 0;
        count = merge(tokens, start, count);
        if (eos) {
            tokens[count++] = EOS;
        }
        return Arrays.copyOf(tokens, count);
    }

    /** Bytes of the UTF-8 sequence starting at {@code i}, as llama2.c groups them (at most 4, continuation bytes only). */
    private static int utf8SequenceLength(byte[] utf8, int i) {
        int length = 1;
        while (i + length < utf8.length && length < 4 && (utf8[i + length] & 0xC0) == 0x80) {
            length++;
        }
        return length;
    }

    /** A candidate merge of the adjacent tokens at nodes left and right, valid while both are unchanged. */
    private record Candidate(float score, int left, int right, int mergedId, int leftVersion, int rightVersion) {
    }

    /**
     * Greedy BPE with llama2.c's result: repeatedly merge the adjacent pair whose concatenation has the
     * highest score, the leftmost one on ties. Instead of rescanning all pairs after every merge (quadratic),
     * candidates sit in a priority queue ordered by (score, position) and are re-checked when popped; tokens
     * form a linked list whose node numbers keep their left-to-right order. O(n log n).
     */
    private int merge(int[] tokens, int start, int count) {
        int n = count - start;
        if (n < 2) {
            return count;
        }
        int[] ids = Arrays.copyOfRange(tokens, start, count);
        int[] next = new int[n];
        int[] prev = new int[n];
        int[] version = new int[n];
        boolean[] removed = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        java.util.PriorityQueue<Candidate> queue = new java.util.PriorityQueue<>(n,
                (a, b) -> a.score() != b.score() ? Float.compare(b.score(), a.score()) : Integer.compare(a.left(), b.left()));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, ids, version, i, i + 1);
        }
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            int left = c.left();
            int right = c.right();
            if (removed[left] || removed[right] || next[left] != right || version[left] != c.leftVersion()
                    || version[right] != c.rightVersion()) {
                continue;
            }
            ids[left] = c.mergedId();
            version[left]++;
            removed[right] = true;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            if (prev[left] >= 0) {
                offer(queue, ids, version, prev[left], left);
            }
            if (next[left] >= 0) {
                offer(queue, ids, version, left, next[left]);
            }
        }
        int out = start;
        for (int i = 0; i >= 0; i = next[i]) {
            tokens[out++] = ids[i];
        }
        return out;
    }

    private void offer(java.util.PriorityQueue<Candidate> queue, int[] ids, int[] version, int left, int right) {
        byte[] a = pieces[ids[left]];
        byte[] b = pieces[ids[right]];
        if (a.length + b.length > pieceBytesMax) {
            return;
        }
        Integer merged = idsByPiece.get(pieceKeys[ids[left]] + pieceKeys[ids[right]]);
        // llama2.c only merges pairs scoring above -1e10, its initial "best score".
        if (merged != null && scores[merged] > MERGE_SCORE_FLOOR) {
            queue.add(new Candidate(scores[merged], left, right, merged, version[left], version[right]));
        }
    }

    /**
     * The bytes a token stands for, following llama2.c: a leading space is dropped right after BOS,
     * and {@code <0xXX>} tokens are the raw byte. Bytes of one character may be spread over several
     * byte tokens; {@link Utf8Stream} reassembles them.
     */
    public byte[] decodePieceBytes(int prevToken, int token) {
        if (token < 0 || token >= pieces.length) {
            throw new InferenceException(InferenceException.Reason.INVALID_PARAMETER,
                    "token id " + token + " outside the vocabulary 0.." + (pieces.length - 1));
        }
        if (rawBytes[token] >= 0) {
            return new byte[] {(byte) rawBytes[token]};
        }
        byte[] piece = pieces[token];
        if (prevToken == BOS && piece.length > 0 && piece[0] == ' ') {
            return Arrays.copyOfRange(piece, 1, piece.length);
        }
        return piece;
    }

    /**
     * {@link #decodePieceBytes} as text. A lone byte of a multi-byte character decodes to U+FFFD
     * here; use {@link Utf8Stream} for streams.
     */
    public String decodePiece(int prevToken, int token) {
        return new String(decodePieceBytes(prevToken, token), StandardCharsets.UTF_8);
    }

    /** Decodes a token sequence as llama2.c would print it, starting after {@code prevToken}. */
    public String decode(int prevToken, int[] tokens) {
        Utf8Stream stream = new Utf8Stream();
        StringBuilder text = new StringBuilder();
        int prev = prevToken;
        for (int token : tokens) {
            text.append(stream.accept(decodePieceBytes(prev, token)));
            prev = token;
        }
        return text.append(stream.flush()).toString();
    }
}
