package dev.tokenmarket.ledger;

/** What a journal entry records; the database (journal_entries_code_check) knows the same list. */
public enum EntryCode implements Wired {
    DEPOSIT("deposit"),
    PAYOUT("payout"),
    USAGE("usage"),
    /** The mirror image of another entry, which it names. */
    REVERSAL("reversal"),
    ADJUSTMENT("adjustment"),
    /** Money moved into or out of an organization's forward escrow. */
    ESCROW("escrow"),
    /** A forward fill settled between its two sides through the platform's clearing account. */
    CLEARING("clearing"),
    /** A provider's performance bond posted, returned or forfeited. */
    BOND("bond"),
    /** Margin posted, called or returned. */
    MARGIN("margin"),
    /** Money paid into or out of the insurance fund. */
    INSURANCE_FUND("insurance_fund"),
    /** A fee on a forward trade. */
    FEE("fee");

    private final String wire;

    EntryCode(String wire) {
        this.wire = wire;
    }

    @Override
    public String wire() {
        return wire;
    }

    public static EntryCode ofWire(String wire) {
        return Wired.ofWire(values(), wire);
    }
}
