package dev.tokenmarket.inference;

/**
 * Keys and values of one sequence, for every layer and every position it will ever occupy.
 * Sized to the sequence's own budget (prompt plus completion), not the whole context window.
 */
final class KvCache {

    private final int capacity;
    private final int kvDim;
    // (layer, capacity, kv_dim)
    private final float[] keys;
    // (layer, capacity, kv_dim)
    private final float[] values;
    private int length;

    KvCache(ModelConfig config, int capacity) {
        if (capacity < 1 || capacity > config.seqLen()) {
            throw new IllegalArgumentException("kv cache capacity " + capacity + " outside 1.." + config.seqLen());
        }
        this.capacity = capacity;
        this.kvDim = config.kvDim();
        this.keys = new float[config.nLayers() * capacity * kvDim];
        this.values = new float[config.nLayers() * capacity * kvDim];
    }

    int capacity() {
        return capacity;
    }

    /** Positions already filled; the next token goes at this position. */
    int length() {
        return length;
    }

    void advance(int positions) {
        if (length + positions > capacity) {
            throw new IllegalStateException("kv cache overflow: " + length + " + " + positions + " > " + capacity);
        }
        length += positions;
    }

    /** Offset of (layer, position, 0) in {@link #keys()} and {@link #values()}. */
    int offset(int layer, int position) {
        return (layer * capacity + position) * kvDim;
    }

    float[] keys() {
        return keys;
    }

    float[] values() {
        return values;
    }
}
