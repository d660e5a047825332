package dev.tokenmarket.forwards.book;

import java.util.SplittableRandom;

/**
 * A seeded stream of every kind of book command, meant to reach every rule of a book: placements of each
 * time in force with and without post-only and reduce-only in each self-trade prevention mode, ids used
 * again (a duplicate while the first rests, a new order once it left), cancels and amendments of live,
 * gone and other owners' orders, amendments down, up and to new prices, cancel all, expiry, the trading
 * stop, and invalid quantities. Few owners and prices around a walking middle make them trade with
 * themselves, cross and build positions often.
 */
final class RandomBookCommands {

    static final long T0 = 1_700_000_000_000L;
    private static final int OWNERS = 6;
    private static final int RECENT = 256;

    private final SplittableRandom random;
    private final long[] recentIds = new long[RECENT];
    private final long[] recentOwners = new long[RECENT];
    private final long[] recentPrices = new long[RECENT];
    private int recentCount;
    private long nextId = 1;
    private long now = T0;
    private long middle = 10_000;

    RandomBookCommands(long seed) {
        random = new SplittableRandom(seed);
    }

    /** The next command; {@code null} stands for an invalid one (a zero quantity), which every book must refuse by throwing. */
    BookCommand next() {
        now += random.nextInt(4);
        if (random.nextInt(64) == 0) {
            middle = Math.clamp(middle + random.nextInt(-5, 6), 9_900, 10_100);
        }
        int kind = random.nextInt(1_000);
        if (kind < 560) {
            return place();
        }
        if (kind < 760) {
            int r = pickRecent();
            long owner = random.nextInt(10) == 0 || recentCount == 0 ? owner() : recentOwners[r];
            return new BookCommand.Cancel(random.nextInt(50) == 0 ? random.nextLong(1, nextId + 10) : recentIds[r], owner);
        }
        if (kind < 910) {
            return amend();
        }
        if (kind < 918) {
            return new BookCommand.CancelAll(owner());
        }
        if (kind < 998) {
            return new BookCommand.Expire(now);
        }
        if (kind < 999 && random.nextInt(20) == 0) {
            return new BookCommand.StopTrading();
        }
        return null;
    }

    /** Every command of a placement that the book must refuse by throwing, to pair with {@link #next()}'s null. */
    BookCommand invalid() {
        return random.nextBoolean()
                ? new BookCommand.Place(nextId++, owner(), Side.BUY, middle, 0, TimeInForce.GTC, 0, false, false,
                        SelfTradePrevention.CANCEL_INCOMING, now)
                : new BookCommand.Amend(recentCount == 0 ? 1 : recentIds[pickRecent()], owner(), middle, 0, now);
    }

    private long owner() {
        return 1 + random.nextInt(OWNERS);
    }

    private int pickRecent() {
        return recentCount == 0 ? 0 : random.nextInt(Math.min(recentCount, RECENT));
    }

    private BookCommand place() {
        long owner = owner();
        Side side = random.nextBoolean() ? Side.BUY : Side.SELL;
        int t = random.nextInt(100);
        TimeInForce tif = t < 45 ? TimeInForce.GTC : t < 70 ? TimeInForce.GTD : t < 88 ? TimeInForce.IOC : TimeInForce.FOK;
        // Buys lean below the middle and sells above it, so that most rest and some cross.
        long offset = random.nextInt(-6, 25);
        long price = Math.max(1, side == Side.BUY ? middle - offset : middle + offset);
        long quantity = random.nextInt(8) == 0 ? random.nextLong(1, 60) : random.nextLong(1, 10);
        long expires = 0;
        if (tif == TimeInForce.GTD) {
            expires = random.nextInt(40) == 0 ? now - random.nextInt(2) : now + random.nextInt(1, 3_000);
        } else if (random.nextInt(50) == 0) {
            expires = now + random.nextInt(1, 3_000); // an expiry on a non-GTD order means nothing
        }
        long id;
        if (recentCount > 0 && random.nextInt(40) == 0) {
            id = recentIds[pickRecent()];
        } else {
            id = nextId++;
        }
        int slot = recentCount++ % RECENT;
        recentIds[slot] = id;
        recentOwners[slot] = owner;
        recentPrices[slot] = price;
        return new BookCommand.Place(id, owner, side, price, quantity, tif, expires, random.nextInt(9) == 0,
                random.nextInt(7) == 0, SelfTradePrevention.values()[random.nextInt(3)], now);
    }

    private BookCommand amend() {
        if (recentCount == 0) {
            return new BookCommand.Amend(1, owner(), middle, 1, now);
        }
        int r = pickRecent();
        long owner = random.nextInt(12) == 0 ? owner() : recentOwners[r];
        long id = recentIds[r];
        long price = recentPrices[r];
        int how = random.nextInt(10);
        if (how < 5) {
            price = Math.max(1, price + random.nextInt(-8, 9));
        }
        long quantity = how % 2 == 0 ? random.nextLong(1, 4) : random.nextLong(1, 30);
        return new BookCommand.Amend(id, owner, price, quantity, now);
    }
}
