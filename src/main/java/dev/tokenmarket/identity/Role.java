package dev.tokenmarket.identity;

import java.util.Locale;

/** What an organization's keys may do. */
public enum Role {
    ADMIN, BUYER, PROVIDER, FINANCE, TRADER;

    public String wireName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Null when {@code value} names no role. */
    public static Role fromWire(String value) {
        for (Role role : values()) {
            if (role.wireName().equals(value)) {
                return role;
            }
        }
        return null;
    }
}
