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

    @Test
    void threadsDrawingAtOnceNeverMakeTheSameId() throws Exception {
        // Threads share a handful of generators; ids made concurrently in one millisecond must still differ.
        Set<UUID> ids = java.util.concurrent.ConcurrentHashMap.newKeySet();
        try (var threads = java.util.concurrent.Executors.newFixedThreadPool(16)) {
            for (int t = 0; t < 16; t++) {
                threads.submit(() -> {
                    for (int i = 0; i < 5_000; i++) {
                        ids.add(TimeOrderedIds.at(1_795_000_000_000L));
                    }
                });
            }
        }
        assertEquals(80_000, ids.size());
    }
}
