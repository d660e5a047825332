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

/** Accounts' balances, and the credit a wallet may use below zero. */
@ApplicationScoped
public class Balances {

    @Inject
    AgroalDataSource dataSource;

    public record Balance(long postedNanoUsd, long heldNanoUsd, long creditLimitNanoUsd) {
        public long availableNanoUsd() {
            return postedNanoUsd - heldNanoUsd;
        }
    }

    public Balance balance(long accountId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select credits_posted_nano_usd - debits_posted_nano_usd, held_nano_usd, credit_limit_nano_usd
                     from ledger_accounts where id = ?""")) {
            ps.setLong(1, accountId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.NOT_FOUND, "No ledger account " + accountId + ".");
                }
                return new Balance(rs.getLong(1), rs.getLong(2), rs.getLong(3));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read balance of " + accountId, e);
        }
    }

    /**
     * Lets an organization's wallet go down to minus {@code limitNanoUsd}. Lowering a limit that the
     * wallet is using is refused (409): the database's balance check fails, so nothing changes.
     */
    @Transactional
    public Balance setCreditLimit(long accountId, long limitNanoUsd) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "update ledger_accounts set credit_limit_nano_usd = ? where id = ? and no_overdraft")) {
            ps.setLong(1, limitNanoUsd);
            ps.setLong(2, accountId);
            if (ps.executeUpdate() == 0) {
                throw new ApiException(ErrorCode.NOT_FOUND, "Account " + accountId + " has no balance limit to set.");
            }
        } catch (SQLException e) {
            if (JournalWriter.isOverdraft(e)) {
                throw new ApiException(ErrorCode.CREDIT_LIMIT_IN_USE, "The wallet is using more credit than "
                        + dev.tokenmarket.platform.Money.formatUsd(limitNanoUsd)
                        + " USD (its balance less holds is below minus that amount); deposit funds first or choose a higher limit.");
            }
            throw new IllegalStateException("could not set the credit limit of account " + accountId, e);
        }
        return balance(accountId);
    }
}
