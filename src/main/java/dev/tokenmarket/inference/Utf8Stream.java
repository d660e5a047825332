package dev.tokenmarket.inference;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns a stream of byte chunks into text without splitting characters: bytes of an incomplete
 * UTF-8 sequence at the end of a chunk are held until the rest arrives. Invalid bytes become U+FFFD.
 * Holds at most three bytes between calls. Not thread-safe; one per sequence.
 */
public final class Utf8Stream {

    private byte[] pending = new byte[0];

    /** Appends bytes and returns the text of all complete characters so far not yet returned. */
    public String accept(byte[] chunk) {
        byte[] all;
        if (pending.length == 0) {
            all = chunk;
        } else {
            all = Arrays.copyOf(pending, pending.length + chunk.length);
            System.arraycopy(chunk, 0, all, pending.length, chunk.length);
        }
        int complete = completePrefixLength(all);
        pending = Arrays.copyOfRange(all, complete, all.length);
        return new String(all, 0, complete, StandardCharsets.UTF_8);
    }

    /** Returns whatever is held, decoding an unfinished sequence as U+FFFD. */
    public String flush() {
        String rest = new String(pending, StandardCharsets.UTF_8);
        pending = new byte[0];
        return rest;
    }

    /** Length of the longest prefix that does not end inside an unfinished multi-byte sequence. */
    static int completePrefixLength(byte[] bytes) {
        int n = bytes.length;
        for (int back = 1; back <= Math.min(3, n); back++) {
            int value = bytes[n - back] & 0xFF;
            if ((value & 0xC0) == 0x80) {
                continue;
            }
            int needed = value >= 0xF0 && value <= 0xF4 ? 4 : value >= 0xE0 && value <= 0xEF ? 3
                    : value >= 0xC2 && value <= 0xDF ? 2 : 1;
            return needed > back ? n - back : n;
        }
        return n;
    }
}
