package dev.tokenmarket.metering;

import java.time.Instant;
import java.time.LocalDate;

/**
 * Parses the instants usage events carry. Events are written with {@link Instant#toString()}
 * ({@code 2026-11-29T09:30:00.123456Z}); that shape is read by hand, because the ledger reads one per
 * event it settles and the general parser costs several times more. Anything else goes to
 * {@link Instant#parse}, which accepts the whole ISO-8601 instant syntax and explains its refusals.
 */
final class IsoInstants {

    private IsoInstants() {
    }

    static Instant parse(String text) {
        Instant parsed = parseUtc(text);
        return parsed != null ? parsed : Instant.parse(text);
    }

    /** The instant of {@code yyyy-MM-ddTHH:mm:ss[.f{1,9}]Z}, or null when the text has another shape. */
    static Instant parseUtc(String t) {
        int length = t.length();
        if (length < 20 || length > 30 || t.charAt(length - 1) != 'Z' || t.charAt(4) != '-' || t.charAt(7) != '-'
                || t.charAt(10) != 'T' || t.charAt(13) != ':' || t.charAt(16) != ':') {
            return null;
        }
        int year = digits(t, 0, 4);
        int month = digits(t, 5, 7);
        int day = digits(t, 8, 10);
        int hour = digits(t, 11, 13);
        int minute = digits(t, 14, 16);
        int second = digits(t, 17, 19);
        if (year < 0 || month < 1 || month > 12 || day < 1 || day > LocalDate.of(year, month, 1).lengthOfMonth()
                || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) {
            return null;
        }
        int nanos = 0;
        if (length > 20) {
            int fractionDigits = length - 21;
            if (t.charAt(19) != '.' || fractionDigits < 1 || fractionDigits > 9) {
                return null;
            }
            nanos = digits(t, 20, length - 1);
            if (nanos < 0) {
                return null;
            }
            for (int d = fractionDigits; d < 9; d++) {
                nanos *= 10;
            }
        } else if (t.charAt(19) != 'Z') {
            return null;
        }
        long epochSecond = LocalDate.of(year, month, day).toEpochDay() * 86_400L + hour * 3_600L + minute * 60L + second;
        return Instant.ofEpochSecond(epochSecond, nanos);
    }

    /** The decimal number in {@code t[from, to)}, or -1 when a character is not a digit. */
    private static int digits(String t, int from, int to) {
        int value = 0;
        for (int i = from; i < to; i++) {
            char c = t.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }
}
