package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.OneRoundTrip;
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
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Holds of the spot path: one per request, placed before it is served (alone, or in groups on the caller's
 * connection), moved to settling once its usage is recorded, captured once by settlement
 * ({@link UsageSettlement}), released when the request produced nothing to bill, and expired after its TTL when
 * the gateway serving it died. (Holds backing resting orders are {@link RestingHolds}.)
 */
@ApplicationScoped
public class SpotHolds {

    @Inject
    AgroalDataSource dataSource;

    /**
     * Places a hold of {@code amountNanoUsd} on an account: it stays posted but is no longer available. Fails
     * with 402 when the available balance is smaller; the database's place_holds makes that exact under
     * any number of concurrent holds.
     */
    @Transactional
    public void place(UUID holdId, long accountId, long amountNanoUsd, String reference, Duration ttl) {
        if (amountNanoUsd <= 0) {
            throw new LedgerInvariantViolation("hold amount must be positive, was " + amountNanoUsd);
        }
        try (Connection c = dataSource.getConnection()) {
            if (!placeAll(c, List.of(new Draft(holdId, accountId, amountNanoUsd, reference, Instant.now().plus(ttl))))[0]) {
                throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE,
                        "Insufficient balance: this request may cost up to "
                                + dev.tokenmarket.platform.Money.formatUsd(amountNanoUsd)
                                + " USD, more than the available balance. Deposit funds or lower max_tokens.");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not place hold " + holdId, e);
        }
    }

    /**
     * A hold to place with {@link #placeAll}: placed only when its account still has
     * {@code keepAvailableNanoUsd} available once it is (0: when the account covers it).
     */
    public record Draft(UUID holdId, long accountId, long amountNanoUsd, String reference, Instant expiresAt,
                            long keepAvailableNanoUsd) {
        public Draft(UUID holdId, long accountId, long amountNanoUsd, String reference, Instant expiresAt) {
            this(holdId, accountId, amountNanoUsd, reference, expiresAt, 0);
        }
    }

    /**
     * Places many holds on {@code c} in the caller's transaction with one call of the database's
     * {@code place_holds} (migrations V14, V15), however many there are: their accounts are locked (in id order, as
     * every writer of accounts locks them, and no more than the update needs: settlement's postings may still
     * reference them meanwhile) and read; each hold is placed, in the given order, when what its account has
     * left after the holds placed before it covers it and still leaves the draft's {@code keepAvailableNanoUsd};
     * then the accounts' held amounts and the placed holds are written. Answers, per draft, whether it was
     * placed. The database's no-overdraft check still stands behind that arithmetic.
     */
    public static boolean[] placeAll(Connection c, List<Draft> drafts) throws SQLException {
        PlaceCommand placing = new PlaceCommand(drafts);
        OneRoundTrip.run(c, List.of(placing));
        return placing.placed();
    }

    /** {@link #placeAll} as a command, to send with others in {@link OneRoundTrip}; answers {@link #placed()}. */
    public static final class PlaceCommand implements OneRoundTrip.Command {
        private final List<Draft> drafts;
        private boolean[] placed;

        public PlaceCommand(List<Draft> drafts) {
            for (Draft d : drafts) {
                if (d.amountNanoUsd() <= 0) {
                    throw new LedgerInvariantViolation("hold amount must be positive, was " + d.amountNanoUsd());
                }
            }
            this.drafts = drafts;
        }

        @Override
        public String sql() {
            return "select place_holds(?::uuid[], ?::bigint[], ?::bigint[], ?::text[], ?::timestamptz[], ?::bigint[])";
        }

        @Override
        public int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
            ps.setArray(first, c.createArrayOf("uuid", drafts.stream().map(Draft::holdId).toArray()));
            ps.setArray(first + 1, c.createArrayOf("int8", drafts.stream().map(Draft::accountId).toArray()));
            ps.setArray(first + 2, c.createArrayOf("int8", drafts.stream().map(Draft::amountNanoUsd).toArray()));
            ps.setArray(first + 3, c.createArrayOf("text", drafts.stream().map(Draft::reference).toArray()));
            // As ISO-8601 text, which PostgreSQL reads as a timestamptz whatever the session's time zone.
            ps.setArray(first + 4, c.createArrayOf("text", drafts.stream().map(d -> d.expiresAt().toString()).toArray()));
            ps.setArray(first + 5, c.createArrayOf("int8", drafts.stream().map(Draft::keepAvailableNanoUsd).toArray()));
            return 6;
        }

        @Override
        public void read(ResultSet rows) throws SQLException {
            rows.next();
            Boolean[] answered = (Boolean[]) rows.getArray(1).getArray();
            placed = new boolean[drafts.size()];
            int placedCount = 0;
            for (int i = 0; i < placed.length; i++) {
                placed[i] = answered[i];
                placedCount += placed[i] ? 1 : 0;
            }
            LedgerMetrics.holdsPlaced(placedCount);
        }

        /** Per draft, whether it was placed. */
        public boolean[] placed() {
            return placed;
        }
    }

    /**
     * Marks holds as waiting for their usage events, in the caller's transaction (the gateway's metering
     * write, or settlement for a hold still pending): they no longer expire, because the usage they cover is
     * recorded and will be settled. Answers those that were pending and now are.
     */
    public static Set<UUID> markSettling(Connection c, List<UUID> holdIds) throws SQLException {
        OneRoundTrip.UuidsAnswered marking = markSettlingCommand(holdIds);
        OneRoundTrip.run(c, List.of(marking));
        return marking.answered();
    }

    /** {@link #markSettling} as a command, to send with others in {@link OneRoundTrip}; it answers the holds moved. */
    public static OneRoundTrip.UuidsAnswered markSettlingCommand(List<UUID> holdIds) {
        return new OneRoundTrip.UuidsAnswered(
                "update holds set status = 'settling' where id = any(?::uuid[]) and status = 'pending' returning id", holdIds);
    }

    /**
     * Releases a hold in full (the request it covered produced nothing to bill): it ends voided. Only a pending
     * hold: once its usage is metered (settling) the hold is the settlement's to capture. Answers whether it
     * was released.
     */
    @Transactional
    public boolean release(UUID holdId) {
        try (Connection c = dataSource.getConnection()) {
            long accountId;
            long amount;
            try (PreparedStatement ps = c.prepareStatement("""
                    update holds set status = 'voided', resolved_at = now()
                    where id = ? and status = 'pending'
                    returning account_id, amount_nano_usd""")) {
                ps.setObject(1, holdId);
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return false;
                    }
                    accountId = rs.getLong(1);
                    amount = rs.getLong(2);
                }
            }
            JournalWriter.AccountDelta delta = new JournalWriter.AccountDelta();
            delta.heldNanoUsd = -amount;
            JournalWriter.applyDeltas(c, Map.of(accountId, delta));
            LedgerMetrics.holdVoided();
            return true;
        } catch (SQLException e) {
            throw new IllegalStateException("could not release hold " + holdId, e);
        }
    }

    /** Expires pending holds past their deadline (a gateway that died mid-request), at most {@code limit} per call. */
    @Transactional
    public int expire(int limit) {
        try (Connection c = dataSource.getConnection()) {
            Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
            int expired = 0;
            try (PreparedStatement ps = c.prepareStatement("""
                    update holds set status = 'expired', resolved_at = now()
                    where id in (select id from holds where status = 'pending' and expires_at < now()
                                 order by expires_at limit ? for update skip locked)
                    returning account_id, amount_nano_usd""")) {
                ps.setInt(1, limit);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        deltas.computeIfAbsent(rs.getLong(1), id -> new JournalWriter.AccountDelta())
                                .heldNanoUsd -= rs.getLong(2);
                        expired++;
                    }
                }
            }
            JournalWriter.applyDeltas(c, deltas);
            LedgerMetrics.holdsExpired(expired);
            return expired;
        } catch (SQLException e) {
            throw new IllegalStateException("could not expire holds", e);
        }
    }
}
