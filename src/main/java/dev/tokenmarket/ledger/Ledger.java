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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * The system of record for money: entries, holds and balances. Every write happens in one database
 * transaction that the database itself keeps balanced and within limits.
 */
@ApplicationScoped
public class Ledger {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LedgerAccounts accounts;

    public record Balance(long postedNanoUsd, long heldNanoUsd, long creditLimitNanoUsd) {
        public long availableNanoUsd() {
            return postedNanoUsd - heldNanoUsd;
        }
    }

    /** The outcome of posting one entry: the entry (possibly the first answer to an earlier identical request). */
    public record PostedEntry(UUID entryId, boolean replayed, Instant createdAt) {
    }

    /**
     * Posts one entry. A retry with the same id and the same request digest answers the first result; the
     * same id with another request is a 409. An account pushed below its limit is a 402.
     */
    @Transactional
    public PostedEntry post(EntryDraft draft) {
        try (Connection c = dataSource.getConnection()) {
            Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
            if (JournalWriter.insertEntries(c, List.of(draft), deltas).isEmpty()) {
                return replay(c, draft);
            }
            JournalWriter.applyDeltas(c, deltas);
            return new PostedEntry(draft.id(), false, Instant.now());
        } catch (SQLException e) {
            if (JournalWriter.isOverdraft(e)) {
                throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE,
                        "The account's available balance does not cover this amount.");
            }
            throw new IllegalStateException("could not post entry " + draft.id(), e);
        }
    }

    private static PostedEntry replay(Connection c, EntryDraft draft) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "select request_sha256, created_at from journal_entries where id = ?")) {
            ps.setObject(1, draft.id());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new LedgerInvariantViolation("entry " + draft.id() + " conflicted but cannot be read");
                }
                if (!Arrays.equals(rs.getBytes(1), draft.requestSha256())) {
                    throw new ApiException(ErrorCode.IDEMPOTENCY_CONFLICT,
                            "This Idempotency-Key was already used for a different request; use a new key.");
                }
                return new PostedEntry(draft.id(), true, rs.getTimestamp(2).toInstant());
            }
        }
    }

    /** An entry with its postings, as finance reads it. */
    public record StoredEntry(UUID id, EntryCode code, String description, String metadataJson, Instant createdAt,
                              UUID reversesEntryId, UUID reversedByEntryId, List<Posting> postings) {
    }

    /** The entry with this id and its postings; 404 when there is none. */
    public StoredEntry entry(UUID entryId) {
        try (Connection c = dataSource.getConnection()) {
            return readEntry(c, entryId);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read entry " + entryId, e);
        }
    }

    private static StoredEntry readEntry(Connection c, UUID entryId) throws SQLException {
        EntryCode code;
        String description;
        String metadata;
        Instant createdAt;
        UUID reverses;
        UUID reversedBy;
        try (PreparedStatement ps = c.prepareStatement("""
                select e.code, e.description, e.metadata::text, e.created_at, e.reverses_entry_id,
                       (select r.id from journal_entries r where r.reverses_entry_id = e.id)
                from journal_entries e where e.id = ?""")) {
            ps.setObject(1, entryId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.NOT_FOUND, "No journal entry " + entryId + ".");
                }
                code = EntryCode.ofWire(rs.getString(1));
                description = rs.getString(2);
                metadata = rs.getString(3);
                createdAt = rs.getTimestamp(4).toInstant();
                reverses = rs.getObject(5, UUID.class);
                reversedBy = rs.getObject(6, UUID.class);
            }
        }
        List<Posting> postings = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "select account_id, amount_nano_usd from postings where entry_id = ? order by seq")) {
            ps.setObject(1, entryId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    postings.add(new Posting(rs.getLong(1), rs.getLong(2)));
                }
            }
        }
        return new StoredEntry(entryId, code, description, metadata, createdAt, reverses, reversedBy, postings);
    }

    /** The id of the reversal of an entry: fixed, so a retried reversal finds the first one. */
    static UUID reversalIdOf(UUID entryId) {
        return UUID.nameUUIDFromBytes(("reversal:" + entryId).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    /**
     * Corrects an entry by posting its mirror image (every posting negated), linked to it. An entry is
     * reversed at most once (the database's unique reverses_entry_id); a reversal is not itself reversible.
     * The original stays as it was. Reversing a usage entry gives the buyer the cost back and takes it from
     * the provider and the platform; the request's hold stays captured, since the request was served.
     * A reversal that would take an account below its limit (a deposit already spent, a provider share
     * already paid out) is refused with 402 and nothing changes.
     */
    @Transactional
    public StoredEntry reverse(UUID entryId, String reason) {
        try (Connection c = dataSource.getConnection()) {
            StoredEntry original = readEntry(c, entryId);
            if (original.code() == EntryCode.REVERSAL) {
                throw new ApiException(ErrorCode.NOT_REVERSIBLE, "Entry " + entryId + " is a reversal (of "
                        + original.reversesEntryId() + ") and cannot be reversed; post a new entry instead.");
            }
            if (original.reversedByEntryId() != null) {
                throw new ApiException(ErrorCode.ALREADY_REVERSED, "Entry " + entryId + " was already reversed by entry "
                        + original.reversedByEntryId() + ".");
            }
            List<Posting> mirror = original.postings().stream()
                    .map(p -> new Posting(p.accountId(), -p.amountNanoUsd())).toList();
            UUID reversalId = reversalIdOf(entryId);
            String metadata = "{\"reverses_entry_id\":\"" + entryId + "\",\"reason\":"
                    + com.fasterxml.jackson.databind.node.TextNode.valueOf(reason) + "}";
            EntryDraft draft = new EntryDraft(reversalId, EntryCode.REVERSAL, "reversal of " + original.code().wire() + " entry "
                    + entryId + ": " + reason, metadata, UsageSettlement.digest("reversal|" + entryId), mirror, entryId);
            Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
            if (JournalWriter.insertEntries(c, List.of(draft), deltas).isEmpty()) {
                // A concurrent reversal of the same entry committed first.
                throw new ApiException(ErrorCode.ALREADY_REVERSED, "Entry " + entryId + " was already reversed by entry "
                        + reversalId + ".");
            }
            JournalWriter.applyDeltas(c, deltas);
            return readEntry(c, reversalId);
        } catch (SQLException e) {
            if (JournalWriter.isOverdraft(e)) {
                throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE, "Reversing entry " + entryId
                        + " would take an account below its limit: the money it moved has been spent, held or paid out since.");
            }
            throw new IllegalStateException("could not reverse entry " + entryId, e);
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

    /**
     * Reserves {@code amountNanoUsd} on an account: it stays posted but is no longer available. Fails
     * with 402 when the available balance is smaller; a single conditional update makes that exact under
     * any number of concurrent holds.
     */
    @Transactional
    public void placeHold(UUID holdId, long accountId, long amountNanoUsd, String reference, Duration ttl) {
        if (amountNanoUsd <= 0) {
            throw new LedgerInvariantViolation("hold amount must be positive, was " + amountNanoUsd);
        }
        try (Connection c = dataSource.getConnection()) {
            if (!reserve(c, holdId, accountId, amountNanoUsd, reference, Instant.now().plus(ttl))) {
                throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE,
                        "Insufficient balance: this request may cost up to "
                                + dev.tokenmarket.platform.Money.formatUsd(amountNanoUsd)
                                + " USD, more than the available balance. Deposit funds or lower max_tokens.");
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not place hold " + holdId, e);
        }
    }

    /** Places one hold on {@code c} in the caller's transaction; false (and nothing written) when the available balance is smaller. */
    static boolean reserve(Connection c, UUID holdId, long accountId, long amountNanoUsd, String reference,
                           Instant expiresAt) throws SQLException {
        return reserveAll(c, List.of(new HoldDraft(holdId, accountId, amountNanoUsd, reference, expiresAt)))[0];
    }

    /**
     * A hold to place with {@link #reserveAll}: placed only when its account still has
     * {@code keepAvailableNanoUsd} available once it is (0: when the account covers it).
     */
    public record HoldDraft(UUID holdId, long accountId, long amountNanoUsd, String reference, Instant expiresAt,
                            long keepAvailableNanoUsd) {
        public HoldDraft(UUID holdId, long accountId, long amountNanoUsd, String reference, Instant expiresAt) {
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
    public static boolean[] reserveAll(Connection c, List<HoldDraft> drafts) throws SQLException {
        PlaceHolds placing = new PlaceHolds(drafts);
        OneRoundTrip.run(c, List.of(placing));
        return placing.placed();
    }

    /** {@link #reserveAll} as a command, to send with others in {@link OneRoundTrip}; answers {@link #placed()}. */
    public static final class PlaceHolds implements OneRoundTrip.Command {
        private final List<HoldDraft> drafts;
        private boolean[] placed;

        public PlaceHolds(List<HoldDraft> drafts) {
            for (HoldDraft d : drafts) {
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
            ps.setArray(first, c.createArrayOf("uuid", drafts.stream().map(HoldDraft::holdId).toArray()));
            ps.setArray(first + 1, c.createArrayOf("int8", drafts.stream().map(HoldDraft::accountId).toArray()));
            ps.setArray(first + 2, c.createArrayOf("int8", drafts.stream().map(HoldDraft::amountNanoUsd).toArray()));
            ps.setArray(first + 3, c.createArrayOf("text", drafts.stream().map(HoldDraft::reference).toArray()));
            // As ISO-8601 text, which PostgreSQL reads as a timestamptz whatever the session's time zone.
            ps.setArray(first + 4, c.createArrayOf("text", drafts.stream().map(d -> d.expiresAt().toString()).toArray()));
            ps.setArray(first + 5, c.createArrayOf("int8", drafts.stream().map(HoldDraft::keepAvailableNanoUsd).toArray()));
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
        OneRoundTrip.UuidsAnswered marking = markingSettling(holdIds);
        OneRoundTrip.run(c, List.of(marking));
        return marking.answered();
    }

    /** {@link #markSettling} as a command, to send with others in {@link OneRoundTrip}; it answers the holds moved. */
    public static OneRoundTrip.UuidsAnswered markingSettling(List<UUID> holdIds) {
        return new OneRoundTrip.UuidsAnswered(
                "update holds set status = 'settling' where id = any(?::uuid[]) and status = 'pending' returning id", holdIds);
    }

    /**
     * Releases a hold in full (the request it covered produced nothing to bill). Only a pending hold: once
     * its usage is metered (settling) the hold is the settlement's to capture.
     */
    @Transactional
    public boolean voidHold(UUID holdId) {
        boolean voided = release(holdId, "voided");
        if (voided) {
            LedgerMetrics.holdVoided();
        }
        return voided;
    }

    private boolean release(UUID holdId, String finalStatus) {
        try (Connection c = dataSource.getConnection()) {
            long accountId;
            long amount;
            try (PreparedStatement ps = c.prepareStatement("""
                    update holds set status = ?, resolved_at = now()
                    where id = ? and status = 'pending'
                    returning account_id, amount_nano_usd""")) {
                ps.setString(1, finalStatus);
                ps.setObject(2, holdId);
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
            return true;
        } catch (SQLException e) {
            throw new IllegalStateException("could not release hold " + holdId, e);
        }
    }

    /**
     * Expires open holds past their deadline, at most {@code limit} per call: spot holds whose request never
     * finished (a gateway that died mid-request), then resting holds whose expiry passed.
     */
    @Transactional
    public int expireHolds(int limit) {
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
            expired += RestingHolds.expire(c, limit - expired);
            LedgerMetrics.holdsExpired(expired);
            return expired;
        } catch (SQLException e) {
            throw new IllegalStateException("could not expire holds", e);
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
     * Entries that have none of their postings, oldest first, at most {@code limit}. The database refuses
     * postings that do not make complete, balanced entries, but it cannot refuse an entry whose postings never
     * come (that would take a check per entry at every commit, on the settlement's path); such an entry moves
     * no money, and the verification lists it. There must be none.
     */
    public List<UUID> entriesWithoutPostings(int limit) {
        try (Connection c = dataSource.getConnection()) {
            return entriesWithoutPostings(c, limit);
        } catch (SQLException e) {
            throw new IllegalStateException("could not verify the ledger's entries", e);
        }
    }

    static List<UUID> entriesWithoutPostings(Connection c, int limit) throws SQLException {
        List<UUID> result = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select e.id from journal_entries e
                where not exists (select 1 from postings p where p.entry_id = e.id)
                order by e.created_at, e.id
                limit ?""")) {
            ps.setInt(1, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(rs.getObject(1, UUID.class));
                }
            }
        }
        return result;
    }

    public record Discrepancy(long accountId, String code, long storedDebitsNanoUsd, long postedDebitsNanoUsd,
                              long storedCreditsNanoUsd, long postedCreditsNanoUsd, long storedHeldNanoUsd,
                              long openHoldsNanoUsd) {
    }

    /**
     * Recomputes every account's debits and credits from its postings, and its held amount from the open
     * holds, and lists every account where the stored balance differs. There must be none.
     */
    public List<Discrepancy> verify() {
        List<Discrepancy> result = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     with p as (select account_id,
                                       coalesce(sum(amount_nano_usd) filter (where amount_nano_usd > 0), 0) as debits,
                                       coalesce(-sum(amount_nano_usd) filter (where amount_nano_usd < 0), 0) as credits
                                from postings group by account_id),
                          h as (select account_id, sum(held_nano_usd) as held from hold_states
                                where status in ('pending', 'settling', 'resting') group by account_id)
                     select a.id, a.code, a.debits_posted_nano_usd, coalesce(p.debits, 0),
                            a.credits_posted_nano_usd, coalesce(p.credits, 0), a.held_nano_usd, coalesce(h.held, 0)
                     from ledger_accounts a
                     left join p on p.account_id = a.id
                     left join h on h.account_id = a.id
                     where a.debits_posted_nano_usd <> coalesce(p.debits, 0)
                        or a.credits_posted_nano_usd <> coalesce(p.credits, 0)
                        or a.held_nano_usd <> coalesce(h.held, 0)
                     order by a.id""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                result.add(new Discrepancy(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4),
                        rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getLong(8)));
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not verify the ledger", e);
        }
    }
}
