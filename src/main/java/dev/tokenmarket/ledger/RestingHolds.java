package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.Money;
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
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Holds that back resting orders: placed once, captured in parts (each part into its own journal entry),
 * reduced, extended, and released by their owner, on any account. What a hold still holds is its amount less
 * what was captured and reduced; the database refuses any write that makes that negative
 * (holds_within_amount, migration V20).
 * <p>
 * Every method works on the caller's connection and in the caller's transaction, together with the caller's
 * own writes: it never commits, rolls back or changes autocommit. In a {@code @Transactional} method, pass a
 * connection of the application's {@code AgroalDataSource} (it is enlisted in that transaction); otherwise a
 * connection with autocommit off. Each method first locks the hold's row, so a capture and a reduce or release
 * of the same hold are serialized: whichever comes second sees what the first left, and a release never frees
 * what a capture in a transaction still open is taking.
 * <p>
 * Refusals ({@link ApiException}) are decided under that lock before anything is written, so they leave the
 * caller's transaction as it was and usable.
 * <p>
 * Locks are taken hold first, then accounts (in id order, as every writer of accounts takes them). A transaction
 * that works on several holds takes all their locks first with {@link #lock}: taking a second hold's lock while
 * holding the accounts' locks of a first could deadlock with a transaction working on the second alone.
 */
@ApplicationScoped
public class RestingHolds {

    @Inject
    AgroalDataSource dataSource;

    /**
     * A resting hold to place: {@code expiresAt} null for one that lives until it is released. The id is
     * chosen by the caller and doubles as the idempotency key.
     */
    public record Draft(UUID holdId, long accountId, long amountNanoUsd, String reference, Instant expiresAt) {
    }

    /** A hold as it stands. */
    public record State(UUID holdId, long accountId, HoldStatus status, long amountNanoUsd, long capturedNanoUsd,
                        long reducedNanoUsd, Instant expiresAt, String reference) {

        /** What the hold still holds on its account: nothing once it is no longer open. */
        public long heldNanoUsd() {
            return status.open() ? amountNanoUsd - capturedNanoUsd - reducedNanoUsd : 0;
        }
    }

    /**
     * Places a resting hold of {@code amountNanoUsd} on the account (of any kind): it stays posted but is no
     * longer available. Refused with {@link ErrorCode#INSUFFICIENT_BALANCE} when an account with the
     * no-overdraft rule has less available, {@link ErrorCode#NOT_FOUND} for an unknown account. Placing the same
     * draft again answers the hold as it stands; the same id with another draft is
     * {@link ErrorCode#IDEMPOTENCY_CONFLICT}.
     */
    public State place(Connection c, Draft draft) throws SQLException {
        // The database keeps microseconds: the answer says the expiry it will read back.
        Draft d = new Draft(draft.holdId(), draft.accountId(), draft.amountNanoUsd(), draft.reference(),
                toMicros(draft.expiresAt()));
        if (d.amountNanoUsd() <= 0) {
            throw new LedgerInvariantViolation("hold amount must be positive, was " + d.amountNanoUsd());
        }
        State existing = read(c, d.holdId());
        if (existing != null) {
            if (existing.accountId() != d.accountId() || existing.amountNanoUsd() != d.amountNanoUsd()
                    || !existing.reference().equals(d.reference())) {
                throw new ApiException(ErrorCode.IDEMPOTENCY_CONFLICT, "Hold " + d.holdId()
                        + " was already placed with another account, amount or reference; use a new hold id.");
            }
            return existing;
        }
        try (PreparedStatement ps = c.prepareStatement("""
                update ledger_accounts set held_nano_usd = held_nano_usd + ?
                where id = ? and (not no_overdraft
                    or credits_posted_nano_usd - debits_posted_nano_usd - held_nano_usd + credit_limit_nano_usd >= ?)""")) {
            ps.setLong(1, d.amountNanoUsd());
            ps.setLong(2, d.accountId());
            ps.setLong(3, d.amountNanoUsd());
            if (ps.executeUpdate() == 0) {
                throw accountRefusal(c, d);
            }
        }
        try (PreparedStatement ps = c.prepareStatement("""
                insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at)
                values (?, ?, ?, 'resting', ?, ?)""")) {
            ps.setObject(1, d.holdId());
            ps.setLong(2, d.accountId());
            ps.setLong(3, d.amountNanoUsd());
            ps.setString(4, d.reference());
            ps.setObject(5, d.expiresAt() == null ? null : OffsetDateTime.ofInstant(d.expiresAt(), ZoneOffset.UTC));
            ps.executeUpdate();
        }
        LedgerMetrics.holdsPlaced(1);
        return new State(d.holdId(), d.accountId(), HoldStatus.RESTING, d.amountNanoUsd(), 0, 0, d.expiresAt(),
                d.reference());
    }

    private static ApiException accountRefusal(Connection c, Draft d) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select 1 from ledger_accounts where id = ?")) {
            ps.setLong(1, d.accountId());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return new ApiException(ErrorCode.NOT_FOUND, "No ledger account " + d.accountId() + ".");
                }
            }
        }
        return new ApiException(ErrorCode.INSUFFICIENT_BALANCE, "Insufficient balance: the order needs "
                + Money.formatUsd(d.amountNanoUsd()) + " USD held, more than the account has available. "
                + "Deposit funds or lower the order.");
    }

    /**
     * Captures {@code amountNanoUsd} of the hold by posting {@code entry}, which must debit the hold's account
     * by exactly that amount (net of its other postings on that account) and may move money between any other
     * accounts. The captured amount leaves the account's held amount as the entry takes it from its balance, so
     * what is available there does not change. Refused with {@link ErrorCode#HOLD_NOT_OPEN} when the hold is
     * no longer resting (released, expired, or past its expiry) and with
     * {@link ErrorCode#HOLD_REMAINDER_EXCEEDED} when it holds less than the amount; nothing is written then.
     * Posting the same entry again (same id and digest) answers the hold as it stands; an entry id used for
     * other content is {@link ErrorCode#IDEMPOTENCY_CONFLICT}. When the entry would take another of its
     * accounts below its limit, the database refuses it and this throws {@link ErrorCode#INSUFFICIENT_BALANCE}
     * with the transaction lost (roll it back).
     */
    public State capture(Connection c, UUID holdId, long amountNanoUsd, EntryDraft entry) throws SQLException {
        if (amountNanoUsd <= 0) {
            throw new LedgerInvariantViolation("capture amount must be positive, was " + amountNanoUsd);
        }
        entry.checkBalanced();
        Locked hold = lock(c, holdId);
        if (isCapturedBy(c, hold.state, entry, amountNanoUsd)) {
            return hold.state;
        }
        requireOpen(hold, "captured");
        if (amountNanoUsd > hold.state.heldNanoUsd()) {
            throw new ApiException(ErrorCode.HOLD_REMAINDER_EXCEEDED, "Hold " + holdId + " holds "
                    + Money.formatUsd(hold.state.heldNanoUsd()) + " USD, less than the "
                    + Money.formatUsd(amountNanoUsd) + " USD to capture; capture at most what it holds.");
        }
        long debited = 0;
        for (Posting p : entry.postings()) {
            debited += p.accountId() == hold.state.accountId() ? p.amountNanoUsd() : 0;
        }
        if (debited != amountNanoUsd) {
            throw new LedgerInvariantViolation("entry " + entry.id() + " debits the hold's account " + hold.state.accountId()
                    + " by " + debited + " nano-USD but captures " + amountNanoUsd);
        }
        Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
        try {
            if (JournalWriter.insertEntries(c, List.of(entry), deltas).isEmpty()) {
                throw new ApiException(ErrorCode.IDEMPOTENCY_CONFLICT, "Entry " + entry.id() + " was posted meanwhile.");
            }
            deltas.get(hold.state.accountId()).heldNanoUsd -= amountNanoUsd;
            JournalWriter.applyDeltas(c, deltas);
        } catch (SQLException e) {
            if (JournalWriter.isOverdraft(e)) {
                throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE,
                        "The capture's entry would take one of its accounts below its limit.");
            }
            throw e;
        }
        try (PreparedStatement ps = c.prepareStatement(
                "insert into hold_capture_parts (hold_id, entry_id, captured_nano_usd) values (?, ?, ?)")) {
            ps.setObject(1, holdId);
            ps.setObject(2, entry.id());
            ps.setLong(3, amountNanoUsd);
            ps.executeUpdate();
        }
        LedgerMetrics.holdsCaptured(1);
        State s = hold.state;
        return new State(holdId, s.accountId(), s.status(), s.amountNanoUsd(), s.capturedNanoUsd() + amountNanoUsd,
                s.reducedNanoUsd(), s.expiresAt(), s.reference());
    }

    /** Whether {@code entry} is posted already: as this very capture (a retry), or else a conflict. */
    private static boolean isCapturedBy(Connection c, State hold, EntryDraft entry, long amountNanoUsd) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                select e.request_sha256, p.captured_nano_usd
                from journal_entries e left join hold_capture_parts p on p.entry_id = e.id and p.hold_id = ?
                where e.id = ?""")) {
            ps.setObject(1, hold.holdId());
            ps.setObject(2, entry.id());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return false;
                }
                if (Arrays.equals(rs.getBytes(1), entry.requestSha256()) && rs.getLong(2) == amountNanoUsd) {
                    return true;
                }
            }
        }
        throw new ApiException(ErrorCode.IDEMPOTENCY_CONFLICT, "Entry " + entry.id()
                + " was already posted for something else than this capture of hold " + hold.holdId() + "; use a new entry id.");
    }

    /**
     * Releases {@code amountNanoUsd} of what the hold holds (a cancel of part of an order, an amend down): it is
     * available again on the account. Refused like {@link #capture} when the hold is not resting or holds less.
     */
    public State reduce(Connection c, UUID holdId, long amountNanoUsd) throws SQLException {
        if (amountNanoUsd <= 0) {
            throw new LedgerInvariantViolation("reduction must be positive, was " + amountNanoUsd);
        }
        Locked hold = lock(c, holdId);
        if (hold.state.status() != HoldStatus.RESTING) {
            throw notOpen(hold.state, "reduced");
        }
        if (amountNanoUsd > hold.state.heldNanoUsd()) {
            throw new ApiException(ErrorCode.HOLD_REMAINDER_EXCEEDED, "Hold " + holdId + " holds "
                    + Money.formatUsd(hold.state.heldNanoUsd()) + " USD, less than the "
                    + Money.formatUsd(amountNanoUsd) + " USD to reduce it by; release it instead.");
        }
        try (PreparedStatement ps = c.prepareStatement(
                "update holds set reduced_nano_usd = reduced_nano_usd + ? where id = ?")) {
            ps.setLong(1, amountNanoUsd);
            ps.setObject(2, holdId);
            ps.executeUpdate();
        }
        releaseHeld(c, hold.state.accountId(), amountNanoUsd);
        State s = hold.state;
        return new State(holdId, s.accountId(), s.status(), s.amountNanoUsd(), s.capturedNanoUsd(),
                s.reducedNanoUsd() + amountNanoUsd, s.expiresAt(), s.reference());
    }

    /**
     * Ends the hold (its order is filled or cancelled): what it still holds is available again, and it can no
     * longer be captured. Answers the amount released; releasing a hold already voided or expired releases
     * nothing and answers 0. Refused with {@link ErrorCode#HOLD_NOT_OPEN} for a spot hold.
     */
    public long release(Connection c, UUID holdId) throws SQLException {
        Locked hold = lock(c, holdId);
        HoldStatus status = hold.state.status();
        if (status == HoldStatus.VOIDED || status == HoldStatus.EXPIRED) {
            return 0;
        }
        if (status != HoldStatus.RESTING) {
            throw notOpen(hold.state, "released as a resting hold");
        }
        long held = hold.state.heldNanoUsd();
        try (PreparedStatement ps = c.prepareStatement(
                "update holds set status = 'voided', resolved_at = now() where id = ?")) {
            ps.setObject(1, holdId);
            ps.executeUpdate();
        }
        releaseHeld(c, hold.state.accountId(), held);
        LedgerMetrics.holdVoided();
        return held;
    }

    /**
     * Moves the hold's expiry later, or removes it ({@code expiresAt} null: the hold lives until it is
     * released). An earlier expiry, or one for a hold that has none, is refused with
     * {@link ErrorCode#INVALID_REQUEST}; a hold no longer open with {@link ErrorCode#HOLD_NOT_OPEN}.
     */
    public State extend(Connection c, UUID holdId, Instant newExpiresAt) throws SQLException {
        Instant expiresAt = toMicros(newExpiresAt);
        Locked hold = lock(c, holdId);
        requireOpen(hold, "extended");
        Instant current = hold.state.expiresAt();
        if (expiresAt != null && (current == null || expiresAt.isBefore(current))) {
            throw ApiException.invalid("expires_at", "Hold " + holdId + (current == null ? " has no expiry"
                    : " expires at " + current) + "; an expiry can only move later (or be removed with null).");
        }
        try (PreparedStatement ps = c.prepareStatement("update holds set expires_at = ? where id = ?")) {
            ps.setObject(1, expiresAt == null ? null : OffsetDateTime.ofInstant(expiresAt, ZoneOffset.UTC));
            ps.setObject(2, holdId);
            ps.executeUpdate();
        }
        State s = hold.state;
        return new State(holdId, s.accountId(), s.status(), s.amountNanoUsd(), s.capturedNanoUsd(), s.reducedNanoUsd(),
                expiresAt, s.reference());
    }

    /**
     * Locks the holds (in id order, so that two transactions locking overlapping sets never deadlock), for a
     * transaction that then captures, reduces or releases several of them. Unknown ids are passed over.
     */
    public void lock(Connection c, Collection<UUID> holdIds) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(
                "select id from holds where id = any(?) order by id for no key update")) {
            ps.setArray(1, c.createArrayOf("uuid", holdIds.toArray()));
            ps.executeQuery().close();
        }
    }

    /** The hold as it stands (any hold, spot or resting); {@link ErrorCode#NOT_FOUND} when there is none. */
    public State state(Connection c, UUID holdId) throws SQLException {
        State s = read(c, holdId);
        if (s == null) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No hold " + holdId + ".");
        }
        return s;
    }

    /**
     * Expires resting holds past their expiry, at most {@code limit}, releasing what each still holds; holds
     * another transaction has locked (being captured or reduced) are left for the next run. Answers how many.
     */
    @Transactional
    public int expire(int limit) {
        try (Connection c = dataSource.getConnection()) {
            int expired = expire(c, limit);
            LedgerMetrics.holdsExpired(expired);
            return expired;
        } catch (SQLException e) {
            throw new IllegalStateException("could not expire resting holds", e);
        }
    }

    private static int expire(Connection c, int limit) throws SQLException {
        Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
        int expired = 0;
        try (PreparedStatement ps = c.prepareStatement("""
                with due as (select id, account_id,
                                    amount_nano_usd - coalesce(captured_nano_usd, 0) - reduced_nano_usd as held
                             from holds where status = 'resting' and expires_at < now()
                             order by expires_at limit ? for no key update skip locked)
                update holds h set status = 'expired', resolved_at = now()
                from due where h.id = due.id
                returning due.account_id, due.held""")) {
            ps.setInt(1, limit);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    deltas.computeIfAbsent(rs.getLong(1), id -> new JournalWriter.AccountDelta()).heldNanoUsd -= rs.getLong(2);
                    expired++;
                }
            }
        }
        JournalWriter.applyDeltas(c, deltas);
        return expired;
    }

    private record Locked(State state, boolean pastExpiry) {
    }

    private static Locked lock(Connection c, UUID holdId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                select account_id, status, amount_nano_usd, coalesce(captured_nano_usd, 0), reduced_nano_usd,
                       expires_at, reference, coalesce(expires_at <= now(), false)
                from holds where id = ? for no key update""")) {
            ps.setObject(1, holdId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.NOT_FOUND, "No hold " + holdId + ".");
                }
                return new Locked(stateOf(holdId, rs), rs.getBoolean(8));
            }
        }
    }

    private static State read(Connection c, UUID holdId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                select account_id, status, amount_nano_usd, coalesce(captured_nano_usd, 0), reduced_nano_usd,
                       expires_at, reference
                from hold_states where id = ?""")) {
            ps.setObject(1, holdId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? stateOf(holdId, rs) : null;
            }
        }
    }

    private static State stateOf(UUID holdId, ResultSet rs) throws SQLException {
        OffsetDateTime expires = rs.getObject(6, OffsetDateTime.class);
        return new State(holdId, rs.getLong(1), HoldStatus.ofWire(rs.getString(2)), rs.getLong(3), rs.getLong(4),
                rs.getLong(5), expires == null ? null : expires.toInstant(), rs.getString(7));
    }

    private static void requireOpen(Locked hold, String verb) {
        if (hold.state.status() != HoldStatus.RESTING || hold.pastExpiry) {
            throw notOpen(hold.state, verb);
        }
    }

    private static ApiException notOpen(State s, String verb) {
        String why = s.status() == HoldStatus.RESTING ? "expired at " + s.expiresAt() : switch (s.status()) {
            case PENDING, SETTLING, CAPTURED -> "a spot hold (" + s.status().wire() + ")";
            default -> s.status().wire();
        };
        return new ApiException(ErrorCode.HOLD_NOT_OPEN, "Hold " + s.holdId() + " cannot be " + verb + ": it is "
                + why + ". Place a new hold.");
    }

    private static Instant toMicros(Instant t) {
        return t == null ? null : t.truncatedTo(ChronoUnit.MICROS);
    }

    private static void releaseHeld(Connection c, long accountId, long amountNanoUsd) throws SQLException {
        if (amountNanoUsd == 0) {
            return;
        }
        JournalWriter.AccountDelta delta = new JournalWriter.AccountDelta();
        delta.heldNanoUsd = -amountNanoUsd;
        JournalWriter.applyDeltas(c, Map.of(accountId, delta));
    }
}
