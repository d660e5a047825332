package dev.tokenmarket.ledger;

/** An enum the database stores as a text of its own, its wire name (the CHECK lists of the migrations). */
interface Wired {

    String wire();

    /** The constant of {@code values} stored as {@code wire}; a broken invariant when there is none. */
    static <E extends Enum<E> & Wired> E ofWire(E[] values, String wire) {
        for (E e : values) {
            if (e.wire().equals(wire)) {
                return e;
            }
        }
        throw new LedgerInvariantViolation("unknown " + values.getClass().getComponentType().getSimpleName() + " " + wire);
    }
}
