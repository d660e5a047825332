package dev.tokenmarket.forwards.book;

/**
 * An open-addressing map from long keys to positive int values (0 means absent), with linear probing and
 * deletion by backward shift, so that lookups never wade through tombstones. It allocates only when it grows.
 */
final class LongIntIndex {

    private long[] keys;
    private int[] values;
    private int mask;
    private int size;

    LongIntIndex(int expected) {
        int capacity = Integer.highestOneBit(Math.max(16, expected * 2 - 1)) << 1;
        keys = new long[capacity];
        values = new int[capacity];
        mask = capacity - 1;
    }

    int size() {
        return size;
    }

    private static int slot(long key, int mask) {
        // The finalizer of MurmurHash3: order ids are (instrument << 40) | sequence, so their low bits alone cluster.
        long h = key;
        h ^= h >>> 33;
        h *= 0xff51afd7ed558ccdL;
        h ^= h >>> 33;
        h *= 0xc4ceb9fe1a85ec53L;
        h ^= h >>> 33;
        return (int) h & mask;
    }

    /** The value of {@code key}, or 0. */
    int get(long key) {
        int i = slot(key, mask);
        while (true) {
            int v = values[i];
            if (v == 0) {
                return 0;
            }
            if (keys[i] == key) {
                return v;
            }
            i = (i + 1) & mask;
        }
    }

    /** Sets {@code key} to {@code value} (positive). */
    void put(long key, int value) {
        int i = slot(key, mask);
        while (values[i] != 0) {
            if (keys[i] == key) {
                values[i] = value;
                return;
            }
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = value;
        if (++size * 2 > keys.length) {
            grow();
        }
    }

    void remove(long key) {
        int i = slot(key, mask);
        while (true) {
            if (values[i] == 0) {
                return;
            }
            if (keys[i] == key) {
                break;
            }
            i = (i + 1) & mask;
        }
        size--;
        // Shift later members of the probe run back into the gap, so that every key stays reachable from its slot.
        int gap = i;
        int j = i;
        while (true) {
            j = (j + 1) & mask;
            if (values[j] == 0) {
                break;
            }
            int home = slot(keys[j], mask);
            boolean movable = gap <= j ? (home <= gap || home > j) : (home <= gap && home > j);
            if (movable) {
                keys[gap] = keys[j];
                values[gap] = values[j];
                gap = j;
            }
        }
        values[gap] = 0;
    }

    /** Copies every key into {@code into} from index 0 (which must have room for {@link #size()}); returns the count. */
    int keys(long[] into) {
        int n = 0;
        for (int i = 0; i < keys.length; i++) {
            if (values[i] != 0) {
                into[n++] = keys[i];
            }
        }
        return n;
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldValues = values;
        keys = new long[oldKeys.length * 2];
        values = new int[oldValues.length * 2];
        mask = keys.length - 1;
        size = 0;
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldValues[i] != 0) {
                put(oldKeys[i], oldValues[i]);
            }
        }
    }
}
