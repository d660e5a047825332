package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** Opens accounts and finds their ids. Account ids never change, so they are remembered once found. */
@ApplicationScoped
public class LedgerAccounts {

    public static final String PLATFORM_CASH = "platform:cash";
    public static final String PLATFORM_REVENUE = "platform:revenue";

    private final Map<String, Long> idsByCode = new ConcurrentHashMap<>();
    private final Map<UUID, Long> walletIds = new ConcurrentHashMap<>();
    private final Map<UUID, Long> payableIds = new ConcurrentHashMap<>();

    @Inject
    AgroalDataSource dataSource;

    public static String walletCode(UUID orgId) {
        return "org:" + orgId + ":wallet";
    }

    public static String payableCode(UUID orgId) {
        return "org:" + orgId + ":payable";
    }

    /** Opens a buyer wallet and/or a provider payable for a new organization (in the caller's transaction). */
    @Transactional
    public void openAccountsFor(UUID orgId, boolean buyer, boolean provider) {
        try (Connection c = dataSource.getConnection()) {
            if (buyer) {
                open(c, walletCode(orgId), orgId, AccountKind.BUYER_WALLET);
            }
            if (provider) {
                open(c, payableCode(orgId), orgId, AccountKind.PROVIDER_PAYABLE);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not open ledger accounts for " + orgId, e);
        }
    }

    /** The code of an organization's account of {@code kind}: wallets and payables keep the codes they always had. */
    public static String codeOf(UUID orgId, AccountKind kind) {
        return switch (kind) {
            case BUYER_WALLET -> walletCode(orgId);
            case PROVIDER_PAYABLE -> payableCode(orgId);
            default -> {
                if (!kind.perOrganization()) {
                    throw new LedgerInvariantViolation(kind + " is a platform account, not an organization's");
                }
                yield "org:" + orgId + ":" + kind.wire();
            }
        };
    }

    /** The code of the platform's one account of {@code kind} (seeded by migrations V2 and V20). */
    public static String platformCodeOf(AccountKind kind) {
        return switch (kind) {
            case PLATFORM_CASH -> PLATFORM_CASH;
            case PLATFORM_REVENUE -> PLATFORM_REVENUE;
            case PLATFORM_MARGIN -> "platform:forward-margin";
            case PLATFORM_SETTLEMENT -> "platform:forward-settlement";
            case CLEARING -> "platform:clearing";
            case INSURANCE_FUND -> "platform:insurance-fund";
            case FORWARD_FEES -> "platform:forward-fees";
            case BUYER_WALLET, PROVIDER_PAYABLE, ESCROW, BOND, MARGIN ->
                    throw new LedgerInvariantViolation(kind + " is an organization's account, not the platform's");
        };
    }

    /**
     * Opens the organization's account of {@code kind} (escrow, bond, margin, or a wallet or payable) unless
     * it has one, in the caller's transaction on {@code c}, and answers its id.
     */
    public long open(Connection c, UUID orgId, AccountKind kind) throws SQLException {
        String code = codeOf(orgId, kind);
        open(c, code, orgId, kind);
        try (PreparedStatement ps = c.prepareStatement("select id from ledger_accounts where code = ?")) {
            ps.setString(1, code);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long id = rs.getLong(1);
                idsByCode.put(code, id);
                return id;
            }
        }
    }

    /** The id of the organization's account of {@code kind}; 404 when it has none. */
    public long accountOf(UUID orgId, AccountKind kind) {
        return idOf(codeOf(orgId, kind), "Organization " + orgId + " has no " + kind.wire() + " account.");
    }

    /** The id of the platform's account of {@code kind}. */
    public long platformAccount(AccountKind kind) {
        return idOf(platformCodeOf(kind), "platform " + kind.wire() + " account missing");
    }

    private static void open(Connection c, String code, UUID orgId, AccountKind kind) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                insert into ledger_accounts (code, org_id, kind, type, normal_side, no_overdraft)
                values (?, ?, ?, ?, ?, ?) on conflict (code) do nothing""")) {
            ps.setString(1, code);
            ps.setObject(2, orgId);
            ps.setString(3, kind.wire());
            ps.setString(4, kind.type());
            ps.setString(5, kind.normalSide());
            ps.setBoolean(6, kind.noOverdraft());
            ps.executeUpdate();
        }
    }

    /** The id of the account with {@code code}, or a 404 naming what is missing. */
    public long idOf(String code, String missingMessage) {
        Long cached = idsByCode.get(code);
        if (cached != null) {
            return cached;
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select id from ledger_accounts where code = ?")) {
            ps.setString(1, code);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.NOT_FOUND, missingMessage);
                }
                long id = rs.getLong(1);
                idsByCode.put(code, id);
                return id;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read ledger account " + code, e);
        }
    }

    public long walletOf(UUID orgId) {
        // Settlement asks for every event; the cache is keyed by the org so a hit builds no strings.
        return walletIds.computeIfAbsent(orgId, id ->
                idOf(walletCode(id), "Organization " + id + " has no buyer wallet (it lacks the buyer role)."));
    }

    public long payableOf(UUID orgId) {
        return payableIds.computeIfAbsent(orgId, id ->
                idOf(payableCode(id), "Organization " + id + " has no provider payable (it lacks the provider role)."));
    }

    public long platformCash() {
        return idOf(PLATFORM_CASH, "platform cash account missing");
    }

    public long platformRevenue() {
        return idOf(PLATFORM_REVENUE, "platform revenue account missing");
    }
}
