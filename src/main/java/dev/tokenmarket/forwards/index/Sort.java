package dev.tokenmarket.forwards.index;

/** Sorts positions by a comparison of what is at them, without boxing a million of them. */
final class Sort {

    private Sort() {
    }

    /** Compares what is at two positions. */
    interface PositionOrder {
        int compare(int a, int b);
    }

    /** The positions 0..size-1 in ascending order, equal ones in position order (a stable merge sort). */
    static int[] ascending(int size, PositionOrder order) {
        int[] from = new int[size];
        for (int i = 0; i < size; i++) {
            from[i] = i;
        }
        int[] to = new int[size];
        for (int width = 1; width < size; width *= 2) {
            for (int left = 0; left < size; left += 2 * width) {
                int middle = Math.min(left + width, size);
                int right = Math.min(left + 2 * width, size);
                int a = left;
                int b = middle;
                int k = left;
                while (a < middle && b < right) {
                    to[k++] = order.compare(from[a], from[b]) <= 0 ? from[a++] : from[b++];
                }
                while (a < middle) {
                    to[k++] = from[a++];
                }
                while (b < right) {
                    to[k++] = from[b++];
                }
            }
            int[] swap = from;
            from = to;
            to = swap;
        }
        return from;
    }
}
