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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    /**
     * Changes to many resting holds, collected in the order they happen and written by {@link #write} in a few
     * set-based statements, whatever their number: for a caller that changes many holds in one transaction (a
     * book's group commit). It also tracks what its changes do to each account's available amount, so that the
     * caller can refuse a hold that an account could not cover before anything is written (see
     * {@link #available}). Holds placed here must be new (no idempotent answer of an existing one).
     */
    public static final class Batch {
        private final List<Draft> places = new ArrayList<>();
        private final List<EntryDraft> entries = new ArrayList<>();
        private final List<UUID> captureHolds = new ArrayList<>();
        private final List<Long> captureAmounts = new ArrayList<>();
        /** Per hold changed other than by a capture: its reduction (summed) and the remainder its release frees. */
        private final Map<UUID, long[]> endings = new LinkedHashMap<>();
        private final Set<UUID> placedHere = new HashSet<>();
        private final Set<UUID> touched = new HashSet<>();
        private final Map<Long, Long> availableChange = new HashMap<>();
        private final Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();

        public void place(Draft d) {
            if (d.amountNanoUsd() <= 0) {
                throw new LedgerInvariantViolation("hold amount must be positive, was " + d.amountNanoUsd());
            }
            places.add(new Draft(d.holdId(), d.accountId(), d.amountNanoUsd(), d.reference(), toMicros(d.expiresAt())));
            placedHere.add(d.holdId());
            delta(d.accountId()).heldNanoUsd += d.amountNanoUsd();
            availableChange.merge(d.accountId(), -d.amountNanoUsd(), Long::sum);
        }

        /** As {@link RestingHolds#capture}: {@code entry} debits the hold's account {@code accountId} by exactly {@code amountNanoUsd}. */
        public void capture(UUID holdId, long accountId, long amountNanoUsd, EntryDraft entry) {
            if (amountNanoUsd <= 0) {
                throw new LedgerInvariantViolation("capture amount must be positive, was " + amountNanoUsd);
            }
            entry.checkBalanced();
            entries.add(entry);
            captureHolds.add(holdId);
            captureAmounts.add(amountNanoUsd);
            touch(holdId);
            delta(accountId).heldNanoUsd -= amountNanoUsd;
            availableChange.merge(accountId, amountNanoUsd, Long::sum);
            for (Posting p : entry.postings()) {
                // A debit takes from what is available, a credit adds to it (every account here is credit-normal or unchecked).
                availableChange.merge(p.accountId(), -p.amountNanoUsd(), Long::sum);
            }
        }

        public void reduce(UUID holdId, long accountId, long amountNanoUsd) {
            if (amountNanoUsd <= 0) {
                throw new LedgerInvariantViolation("reduction must be positive, was " + amountNanoUsd);
            }
            endings.computeIfAbsent(holdId, k -> new long[]{0, -1})[0] += amountNanoUsd;
            touch(holdId);
            delta(accountId).heldNanoUsd -= amountNanoUsd;
            availableChange.merge(accountId, amountNanoUsd, Long::sum);
        }

        /**
         * Ends the hold; {@code remainderNanoUsd} is what the caller knows it still holds, which the write
         * checks against the database (a difference is a {@link LedgerInvariantViolation}).
         */
        public void release(UUID holdId, long accountId, long remainderNanoUsd) {
            long[] ending = endings.computeIfAbsent(holdId, k -> new long[]{0, -1});
            if (ending[1] >= 0) {
                throw new LedgerInvariantViolation("hold " + holdId + " released twice");
            }
            ending[1] = remainderNanoUsd;
            touch(holdId);
            delta(accountId).heldNanoUsd -= remainderNanoUsd;
            availableChange.merge(accountId, remainderNanoUsd, Long::sum);
        }

        /** What this batch's changes so far add to (or take from) what {@code accountId} has available. */
        public long availableChange(long accountId) {
            return availableChange.getOrDefault(accountId, 0L);
        }

        public boolean isEmpty() {
            return places.isEmpty() && entries.isEmpty() && endings.isEmpty();
        }

        private void touch(UUID holdId) {
            if (!placedHere.contains(holdId)) {
                touched.add(holdId);
            }
        }

        private JournalWriter.AccountDelta delta(long accountId) {
            return deltas.computeIfAbsent(accountId, k -> new JournalWriter.AccountDelta());
        }
    }

    /**
     * Writes a batch in the caller's transaction: locks the holds it changes that existed before (in id order),
     * inserts the new holds, the capture entries with their postings and capture parts, applies the reductions
     * and releases in one update, then every account's change in one ordered lock and one update (so that two
     * such transactions never deadlock on accounts). A change the database refuses throws: an account taken
     * below its limit (another transaction spent what the batch counted on) as
     * {@link ErrorCode#INSUFFICIENT_BALANCE}, anything else as an {@link SQLException} or a
     * {@link LedgerInvariantViolation}; the transaction is lost then.
     */
    public void write(Connection c, Batch b) throws SQLException {
        if (b.isEmpty()) {
            return;
        }
        if (!b.touched.isEmpty()) {
            lock(c, b.touched);
        }
        if (!b.places.isEmpty()) {
            insertHolds(c, b.places);
        }
        try {
            if (!b.entries.isEmpty()) {
                Map<Long, JournalWriter.AccountDelta> postings = new HashMap<>();
                if (JournalWriter.insertEntries(c, b.entries, postings).size() != b.entries.size()) {
                    throw new ApiException(ErrorCode.IDEMPOTENCY_CONFLICT, "A capture's entry id was posted already.");
                }
                postings.forEach((account, d) -> {
                    JournalWriter.AccountDelta into = b.delta(account);
                    into.debitsNanoUsd = Math.addExact(into.debitsNanoUsd, d.debitsNanoUsd);
                    into.creditsNanoUsd = Math.addExact(into.creditsNanoUsd, d.creditsNanoUsd);
                });
                try (PreparedStatement ps = c.prepareStatement("""
                        insert into hold_capture_parts (hold_id, entry_id, captured_nano_usd)
                        select * from unnest(?::uuid[], ?::uuid[], ?::bigint[])""")) {
                    ps.setArray(1, c.createArrayOf("uuid", b.captureHolds.toArray()));
                    ps.setArray(2, c.createArrayOf("uuid", b.entries.stream().map(EntryDraft::id).toArray()));
                    ps.setArray(3, c.createArrayOf("int8", b.captureAmounts.toArray()));
                    ps.executeUpdate();
                }
            }
            if (!b.endings.isEmpty()) {
                endHolds(c, b.endings);
            }
            JournalWriter.applyDeltas(c, b.deltas);
        } catch (SQLException e) {
            if (JournalWriter.isOverdraft(e)) {
                throw new ApiException(ErrorCode.INSUFFICIENT_BALANCE, "Insufficient balance: another payment took what the"
                        + " order needs held meanwhile. Deposit funds or lower the order.");
            }
            throw e;
        }
        LedgerMetrics.holdsPlaced(b.places.size());
        LedgerMetrics.holdsCaptured(b.entries.size());
    }

    private static void insertHolds(Connection c, List<Draft> places) throws SQLException {
        int n = places.size();
        Object[] ids = new Object[n];
        Long[] accounts = new Long[n];
        Long[] amounts = new Long[n];
        String[] references = new String[n];
        OffsetDateTime[] expiries = new OffsetDateTime[n];
        for (int i = 0; i < n; i++) {
            Draft d = places.get(i);
            ids[i] = d.holdId();
            accounts[i] = d.accountId();
            amounts[i] = d.amountNanoUsd();
            references[i] = d.reference();
            expiries[i] = d.expiresAt() == null ? null : OffsetDateTime.ofInstant(d.expiresAt(), ZoneOffset.UTC);
        }
        try (PreparedStatement ps = c.prepareStatement("""
                insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at)
                select id, account, amount, 'resting', reference, expires
                from unnest(?::uuid[], ?::bigint[], ?::bigint[], ?::text[], ?::timestamptz[]) as t(id, account, amount, reference, expires)""")) {
            ps.setArray(1, c.createArrayOf("uuid", ids));
            ps.setArray(2, c.createArrayOf("int8", accounts));
            ps.setArray(3, c.createArrayOf("int8", amounts));
            ps.setArray(4, c.createArrayOf("text", references));
            ps.setArray(5, c.createArrayOf("timestamptz", expiries));
            ps.executeUpdate();
        }
    }

    /** The reductions and releases of a batch in one update; each release must free what its caller said it holds. */
    private static void endHolds(Connection c, Map<UUID, long[]> endings) throws SQLException {
        int n = endings.size();
        Object[] ids = new Object[n];
        Long[] reductions = new Long[n];
        Boolean[] releases = new Boolean[n];
        int i = 0;
        for (Map.Entry<UUID, long[]> e : endings.entrySet()) {
            ids[i] = e.getKey();
            reductions[i] = e.getValue()[0];
            releases[i] = e.getValue()[1] >= 0;
            i++;
        }
        try (PreparedStatement ps = c.prepareStatement("""
                update holds h set reduced_nano_usd = h.reduced_nano_usd + d.reduction,
                    status = case when d.release then 'voided' else h.status end,
                    resolved_at = case when d.release then now() else h.resolved_at end
                from unnest(?::uuid[], ?::bigint[], ?::boolean[]) as d(id, reduction, release)
                where h.id = d.id and h.status = 'resting'
                returning h.id, h.amount_nano_usd - coalesce(h.captured_nano_usd, 0) - h.reduced_nano_usd""")) {
            ps.setArray(1, c.createArrayOf("uuid", ids));
            ps.setArray(2, c.createArrayOf("int8", reductions));
            ps.setArray(3, c.createArrayOf("boolean", releases));
            int updated = 0;
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    updated++;
                    long[] ending = endings.get(rs.getObject(1, UUID.class));
                    if (ending[1] >= 0 && ending[1] != rs.getLong(2)) {
                        throw new LedgerInvariantViolation("hold " + rs.getObject(1) + " still holds " + rs.getLong(2)
                                + " nano-USD, not the " + ending[1] + " its release counted on");
                    }
                }
            }
            if (updated != n) {
                throw new LedgerInvariantViolation("reduced or released " + updated + " resting holds of " + n);
            }
        }
        int released = 0;
        for (long[] ending : endings.values()) {
            released += ending[1] >= 0 ? 1 : 0;
        }
        LedgerMetrics.holdsVoided(released);
    }

    /**
     * What each account has available (posted balance less held, plus its credit limit), read without a lock:
     * a batch counts on it and {@link #write} fails if another transaction spent it meanwhile. Accounts without
     * the no-overdraft rule answer {@link Long#MAX_VALUE}.
     */
    public Map<Long, Long> available(Connection c, Collection<Long> accountIds) throws SQLException {
        Map<Long, Long> result = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select id, case when no_overdraft
                    then credits_posted_nano_usd - debits_posted_nano_usd - held_nano_usd + credit_limit_nano_usd end
                from ledger_accounts where id = any(?)""")) {
            ps.setArray(1, c.createArrayOf("int8", accountIds.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long available = rs.getLong(2);
                    result.put(rs.getLong(1), rs.wasNull() ? Long.MAX_VALUE : available);
                }
            }
        }
        return result;
    }

    /** The refusal of a hold of {@code amountNanoUsd} that the account does not have available. */
    public static ApiException insufficientBalance(long amountNanoUsd) {
        return new ApiException(ErrorCode.INSUFFICIENT_BALANCE, "Insufficient balance: the order needs "
                + Money.formatUsd(amountNanoUsd) + " USD held, more than the account has available. "
                + "Deposit funds or lower the order.");
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
        return insufficientBalance(d.amountNanoUsd());
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
