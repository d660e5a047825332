package dev.tokenmarket.gateway;

import dev.tokenmarket.platform.error.ApiException;

import java.util.UUID;

/** Generation ids travel as {@code gen-<uuid>}; the uuid is also the usage event id and the journal entry id. */
public final class GenerationIds {

    private static final String PREFIX = "gen-";

    private GenerationIds() {
    }

    public static String format(UUID id) {
        return PREFIX + id;
    }

    public static UUID parse(String value) {
        if (value == null || value.isBlank()) {
            throw ApiException.invalid("id", "Query parameter 'id' is required: a generation id such as gen-<uuid>.");
        }
        String raw = value.startsWith(PREFIX) ? value.substring(PREFIX.length()) : value;
        try {
            return UUID.fromString(raw);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid("id", "Query parameter 'id' is not a generation id: " + value);
        }
    }
}
