package dev.tokenmarket.platform;

import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.UUID;

/**
 * UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made later sort later,
 * so the ledger's primary-key indexes, keyed by these ids, grow at their right edge instead of touching a
 * random page for every insert.
 */
public final class TimeOrderedIds {

    /**
     * Several generators, picked by thread: a single SecureRandom serializes its callers, and under a burst
     * of requests the gateway's threads queued on it for tens of milliseconds. DRBG instances lock only
     * themselves (Linux's default NativePRNG shares one lock across instances).
     */
    private static final SecureRandom[] RANDOMS = new SecureRandom[Math.max(4, 2 * Runtime.getRuntime().availableProcessors())];

    static {
        for (int i = 0; i < RANDOMS.length; i++) {
            try {
                RANDOMS[i] = SecureRandom.getInstance("DRBG");
            } catch (NoSuchAlgorithmException e) {
                RANDOMS[i] = new SecureRandom();
            }
        }
    }

    private TimeOrderedIds() {
    }

    public static UUID next() {
        return at(System.currentTimeMillis());
    }

    static UUID at(long unixMillis) {
        byte[] random = new byte[10];
        RANDOMS[(int) Math.floorMod(Thread.currentThread().threadId(), (long) RANDOMS.length)].nextBytes(random);
        long high = (unixMillis & 0xFFFF_FFFF_FFFFL) << 16
                | 0x7000L                                    // version 7
                | ((random[0] & 0x0FL) << 8) | (random[1] & 0xFFL);
        long low = 0x8000_0000_0000_0000L                    // variant 10
                | ((random[2] & 0x3FL) << 56);
        for (int i = 3; i < 10; i++) {
            low |= (random[i] & 0xFFL) << (8 * (9 - i));
        }
        return new UUID(high, low);
    }
}
