package dev.tokenmarket.ledger;

/**
 * The kinds of ledger account, with their accounting type, normal side and overdraft rule; the database
 * (ledger_accounts_kind_rules, migration V20) refuses an account whose kind disagrees with them.
 */
public enum AccountKind implements Wired {
    /** What the platform owes a buyer: deposits in, usage out. May not be overdrawn. */
    BUYER_WALLET("buyer_wallet", "liability", "credit", true),
    /** What the platform owes a provider: usage less fees in, payouts out. May not be overdrawn. */
    PROVIDER_PAYABLE("provider_payable", "liability", "credit", true),
    /** Money the platform holds: deposits in, payouts out. */
    PLATFORM_CASH("platform_cash", "asset", "debit", false),
    /** Platform fees earned. */
    PLATFORM_REVENUE("platform_revenue", "revenue", "credit", false),
    /** The platform's forward margin pool (seeded by V2). */
    PLATFORM_MARGIN("platform_margin", "liability", "credit", false),
    /** The platform's forward settlement pool (seeded by V2). */
    PLATFORM_SETTLEMENT("platform_settlement", "liability", "credit", false),
    /** An organization's money set aside for a forward contract's delivery or payment. May not be overdrawn. */
    ESCROW("escrow", "liability", "credit", true),
    /** A provider's performance bond for capacity it sold forward. May not be overdrawn. */
    BOND("bond", "liability", "credit", true),
    /** A trader's margin for open forward positions. May not be overdrawn. */
    MARGIN("margin", "liability", "credit", true),
    /** The platform's clearing account between the two sides of a forward fill: pays out no more than it got. */
    CLEARING("clearing", "liability", "credit", true),
    /** The platform's insurance fund against defaults: pays out no more than it got. */
    INSURANCE_FUND("insurance_fund", "liability", "credit", true),
    /** Fees earned on forward trades. */
    FORWARD_FEES("forward_fees", "revenue", "credit", false);

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

    @Override
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

    /** Whether accounts of this kind belong to an organization (one per organization), not to the platform. */
    public boolean perOrganization() {
        return switch (this) {
            case BUYER_WALLET, PROVIDER_PAYABLE, ESCROW, BOND, MARGIN -> true;
            case PLATFORM_CASH, PLATFORM_REVENUE, PLATFORM_MARGIN, PLATFORM_SETTLEMENT, CLEARING, INSURANCE_FUND,
                 FORWARD_FEES -> false;
        };
    }

    /** The kind stored as {@code wire}. */
    public static AccountKind ofWire(String wire) {
        return Wired.ofWire(values(), wire);
    }
}
