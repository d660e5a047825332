package dev.tokenmarket.identity;

import java.util.Collection;
import java.util.Map;
import java.util.UUID;

/** The limits of many keys at once, for key listings. The gateway owns and enforces them. */
public interface KeyLimitsDirectory {

    /** A key's limits as listings show them; null fields do not apply. {@code spendLimit} is a USD decimal string. */
    record Summary(Integer requestsPerMinute, Long tokensPerMinute, String spendLimit, String spendLimitReset) {
        public static final Summary NONE = new Summary(null, null, null, "never");
    }

    /** The limits of each of {@code keyIds} that has any; a key missing from the answer has none. */
    Map<UUID, Summary> limitsOf(Collection<UUID> keyIds);
}
