package dev.tokenmarket.platform;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TimeOrderedIdsTest {

    @Test
    void idsAreVersion7CarryTheirMillisecondAndSortByIt() {
        // Proves generation ids (the ledger's entry ids) are RFC 9562 version 7, ordered by creation time.
        UUID early = TimeOrderedIds.at(1_795_000_000_000L);
        UUID late = TimeOrderedIds.at(1_795_000_000_001L);
        assertEquals(7, early.version());
        assertEquals(2, early.variant());
        assertEquals(1_795_000_000_000L, early.getMostSignificantBits() >>> 16);
        // PostgreSQL orders uuids by their bytes, big-endian, as this string comparison does.
        assertTrue(early.toString().compareTo(late.toString()) < 0);
        Set<UUID> sameMillisecond = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            sameMillisecond.add(TimeOrderedIds.at(1_795_000_000_000L));
        }
        assertEquals(10_000, sameMillisecond.size(), "74 random bits keep ids of one millisecond apart");
    }
}
