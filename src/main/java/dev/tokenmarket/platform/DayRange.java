package dev.tokenmarket.platform;

import dev.tokenmarket.platform.error.ApiException;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * A range of whole UTC days, both ends included, as the by-day reads take it: {@code from} and {@code to} are
 * dates such as 2026-12-01; without them, the 30 days up to today.
 */
public record DayRange(LocalDate from, LocalDate to) {

    /** Days a by-day read answers at most: a year and a day, so that any calendar year fits. */
    public static final int DAYS_MAX = 366;
    private static final int DAYS_DEFAULT = 30;

    public static DayRange parse(String from, String to) {
        LocalDate toDay = day(to, "to", LocalDate.now(ZoneOffset.UTC));
        LocalDate fromDay = day(from, "from", toDay.minusDays(DAYS_DEFAULT - 1));
        if (fromDay.isAfter(toDay) || fromDay.plusDays(DAYS_MAX - 1).isBefore(toDay)) {
            throw ApiException.invalid("from", "'from' (" + fromDay + ") must be on or before 'to' (" + toDay
                    + "), at most " + DAYS_MAX + " days apart.");
        }
        return new DayRange(fromDay, toDay);
    }

    /** The start of the first day. */
    public Instant start() {
        return from.atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    /** The start of the day after the last one: the range is [start, end). */
    public Instant end() {
        return to.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
    }

    private static LocalDate day(String value, String field, LocalDate fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return LocalDate.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + field + "' must be a date such as 2026-12-01; got \"" + value + "\".");
        }
    }
}
