package dev.tokenmarket.ledger;

/** The kinds of ledger account, with their accounting type and normal side. */
public enum AccountKind {
    /** What the platform owes a buyer: deposits in, usage out. May not be overdrawn. */
    BUYER_WALLET("buyer_wallet", "liability", "credit", true),
    /** What the platform owes a provider: usage less fees in, payouts out. May not be overdrawn. */
    PROVIDER_PAYABLE("provider_payable", "liability", "credit", true),
    /** Money the platform holds: deposits in, payouts out. */
    PLATFORM_CASH("platform_cash", "asset", "debit", false),
    /** Platform fees earned. */
    PLATFORM_REVENUE("platform_revenue", "revenue", "credit", false);

    private final String wire;
    private final String type;
    private final String normalSide;
    private final boolean noOverdraft;

    AccountKind(String wire, String type, String normalSide, boolean noOverdraft) {
        this.wire = wire;
        this.type = type;
        this.normalSide = normalSide;
        this.noOverdraft = noOverdraft;
    }

    public String wire() {
        return wire;
    }

    public String type() {
        return type;
    }

    public String normalSide() {
        return normalSide;
    }

    public boolean noOverdraft() {
        return noOverdraft;
    }
}
