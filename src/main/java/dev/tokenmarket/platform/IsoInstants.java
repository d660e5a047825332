package dev.tokenmarket.platform;

import dev.tokenmarket.platform.error.ApiException;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/** The one reading of the API's date and time parameters: an ISO-8601 date (its UTC start) or instant. */
public final class IsoInstants {

    private IsoInstants() {
    }

    /** {@code value} as an instant; a date such as 2026-12-01 is its start in UTC. Bad input names {@code field}. */
    public static Instant parse(String value, String field) {
        try {
            return value.length() == 10 ? LocalDate.parse(value).atStartOfDay(ZoneOffset.UTC).toInstant() : Instant.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + field + "' must be an ISO-8601 date (2026-12-01) or instant "
                    + "(2026-12-01T00:00:00Z); got \"" + value + "\".");
        }
    }
}
