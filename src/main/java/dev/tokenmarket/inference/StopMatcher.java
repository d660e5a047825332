package dev.tokenmarket.inference;

import java.util.List;

/**
 * Finds stop sequences in streamed text. Text that could still turn out to be the start of a stop
 * sequence is held back, so released text never contains any part of one. Not thread-safe.
 */
final class StopMatcher {

    private final List<String> stops;
    private final int stopCharsMax;
    private final StringBuilder text = new StringBuilder();
    private int released;
    private boolean stopped;

    StopMatcher(List<String> stops) {
        this.stops = stops;
        int longest = 0;
        for (String stop : stops) {
            longest = Math.max(longest, stop.length());
        }
        this.stopCharsMax = longest;
    }

    /** Appends text and returns the part that is now safe to release; check {@link #stopped()} afterwards. */
    String append(String piece) {
        if (stopped) {
            return "";
        }
        int searchFrom = Math.max(released, text.length() - Math.max(0, stopCharsMax - 1));
        text.append(piece);
        int found = -1;
        for (String stop : stops) {
            int at = text.indexOf(stop, searchFrom);
            if (at >= 0 && (found < 0 || at < found)) {
                found = at;
            }
        }
        if (found >= 0) {
            stopped = true;
            text.setLength(found);
            return releaseUpTo(found);
        }
        return releaseUpTo(text.length() - heldSuffixLength());
    }

    /** Releases everything still held (end of generation without a stop sequence). */
    String flush() {
        return releaseUpTo(text.length());
    }

    boolean stopped() {
        return stopped;
    }

    /** The text so far without any stop sequence. */
    String text() {
        return text.toString();
    }

    /** The text released so far (what a listener has seen). */
    String releasedText() {
        return text.substring(0, released);
    }

    private String releaseUpTo(int end) {
        if (end <= released) {
            return "";
        }
        String result = text.substring(released, end);
        released = end;
        return result;
    }

    /** Length of the longest unreleased suffix that is a proper prefix of some stop sequence. */
    private int heldSuffixLength() {
        int length = text.length();
        int best = 0;
        for (String stop : stops) {
            int max = Math.min(stop.length() - 1, length - released);
            for (int n = max; n > best; n--) {
                if (endsWithPrefix(length, stop, n)) {
                    best = n;
                    break;
                }
            }
        }
        return best;
    }

    private boolean endsWithPrefix(int length, String stop, int n) {
        for (int i = 0; i < n; i++) {
            if (text.charAt(length - n + i) != stop.charAt(i)) {
                return false;
            }
        }
        return true;
    }
}
