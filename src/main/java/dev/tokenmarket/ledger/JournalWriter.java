package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.OneRoundTrip;
import org.postgresql.util.PSQLException;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Writes journal entries in bulk inside the caller's transaction: one statement for the entries, one for
 * all their postings, and one balance update per touched account with the changes of the whole batch
 * summed, so an account that every entry touches (platform revenue) is locked and written once per batch.
 */
final class JournalWriter {

    /** Balance changes of one account, summed over a batch. */
    static final class AccountDelta {
        long debitsNanoUsd;
        long creditsNanoUsd;
        long heldNanoUsd;
    }

    private JournalWriter() {
    }

    /**
     * Inserts the drafts whose id is new and answers those ids; a draft whose id exists is skipped (the
     * caller decides whether that is a retry or a conflict). Balance changes of the inserted entries are
     * added to {@code deltas}, to be applied with {@link #applyDeltas}.
     */
    static Set<UUID> insertEntries(Connection c, List<EntryDraft> drafts, Map<Long, AccountDelta> deltas)
            throws SQLException {
        int n = drafts.size();
        UUID[] ids = new UUID[n];
        String[] codes = new String[n];
        String[] descriptions = new String[n];
        String[] metadata = new String[n];
        byte[][] digests = new byte[n][];
        Short[] counts = new Short[n];
        UUID[] reverses = new UUID[n];
        for (int i = 0; i < n; i++) {
            EntryDraft d = drafts.get(i);
            d.checkBalanced();
            ids[i] = d.id();
            codes[i] = d.code().wire();
            descriptions[i] = d.description();
            metadata[i] = d.metadataJson();
            digests[i] = d.requestSha256();
            counts[i] = (short) d.postings().size();
            reverses[i] = d.reversesEntryId();
        }
        Set<UUID> inserted = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement("""
                insert into journal_entries (id, code, description, metadata, request_sha256, posting_count, reverses_entry_id)
                select id, code, description, metadata::json, digest, cnt, rev
                from unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::smallint[], ?::uuid[])
                     as t(id, code, description, metadata, digest, cnt, rev)
                on conflict (id) do nothing
                returning id""")) {
            ps.setArray(1, c.createArrayOf("uuid", ids));
            ps.setArray(2, c.createArrayOf("text", codes));
            ps.setArray(3, c.createArrayOf("text", descriptions));
            ps.setArray(4, c.createArrayOf("text", metadata));
            ps.setArray(5, c.createArrayOf("bytea", digests));
            ps.setArray(6, c.createArrayOf("int2", counts));
            ps.setArray(7, c.createArrayOf("uuid", reverses));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    inserted.add(rs.getObject(1, UUID.class));
                }
            }
        }
        if (inserted.isEmpty()) {
            return inserted;
        }
        int postingCount = 0;
        for (EntryDraft d : drafts) {
            if (inserted.contains(d.id())) {
                postingCount += d.postings().size();
            }
        }
        UUID[] entryIds = new UUID[postingCount];
        Short[] seqs = new Short[postingCount];
        Long[] accounts = new Long[postingCount];
        Long[] amounts = new Long[postingCount];
        int k = 0;
        for (EntryDraft d : drafts) {
            if (!inserted.contains(d.id())) {
                continue;
            }
            short seq = 0;
            for (Posting p : d.postings()) {
                entryIds[k] = d.id();
                seqs[k] = seq++;
                accounts[k] = p.accountId();
                amounts[k] = p.amountNanoUsd();
                k++;
                addToDelta(deltas, p);
            }
        }
        try (PreparedStatement ps = c.prepareStatement("""
                insert into postings (entry_id, seq, account_id, amount_nano_usd)
                select * from unnest(?::uuid[], ?::smallint[], ?::bigint[], ?::bigint[])""")) {
            ps.setArray(1, c.createArrayOf("uuid", entryIds));
            ps.setArray(2, c.createArrayOf("int2", seqs));
            ps.setArray(3, c.createArrayOf("int8", accounts));
            ps.setArray(4, c.createArrayOf("int8", amounts));
            ps.executeUpdate();
        }
        return inserted;
    }

    /**
     * The settlement's bulk path: writes the drafts with COPY (the entries, then all their postings), which
     * PostgreSQL loads without parsing arrays, speculative inserts or returning rows; {@link #insertEntries}
     * does the same with INSERT. Answers the drafts written.
     * <p>
     * With {@code skipPosted} the drafts whose id is already posted are looked up first and left out, and
     * so are repeats of an id. Without it none is expected (a batch of fresh events, the usual case, then
     * saves looking up every id, and all the drafts are written), and one that is posted or repeated fails
     * the COPY with {@link #isAlreadyPosted an "already posted" error}: the transaction is lost and the
     * caller writes the batch again with {@code skipPosted}. That is also what an id posted by someone else
     * between the look-up and the COPY causes.
     */
    static List<EntryDraft> copyEntries(Connection c, List<EntryDraft> drafts, boolean skipPosted,
                                        Map<Long, AccountDelta> deltas) throws SQLException {
        List<EntryDraft> written = drafts;
        if (skipPosted) {
            // The ids posted already, then each id as it is taken: a draft whose id is in it is left out.
            Set<UUID> taken = uuidsAnswered(c, "select id from journal_entries where id = any(?)",
                    drafts.stream().map(EntryDraft::id).toList());
            written = drafts.stream().filter(d -> taken.add(d.id())).toList();
        }
        BinaryCopyRows entries = new BinaryCopyRows(written.size() * 400);
        BinaryCopyRows postings = new BinaryCopyRows(written.size() * 3 * 48);
        for (EntryDraft d : written) {
            d.checkBalanced();
            entries.row(7).uuid(d.id()).text(d.code().wire()).text(d.description()).text(d.metadataJson())
                    .bytea(d.requestSha256()).smallint(d.postings().size()).uuid(d.reversesEntryId());
            int seq = 0;
            for (Posting p : d.postings()) {
                postings.row(4).uuid(d.id()).smallint(seq++).bigint(p.accountId()).bigint(p.amountNanoUsd());
                addToDelta(deltas, p);
            }
        }
        if (written.isEmpty()) {
            return written;
        }
        entries.copyIn(c, "copy journal_entries (id, code, description, metadata, request_sha256, posting_count, reverses_entry_id)"
                + " from stdin (format binary)");
        postings.copyIn(c, "copy postings (entry_id, seq, account_id, amount_nano_usd) from stdin (format binary)");
        return written;
    }

    /** The ids {@code sql} answers (in its first column) when given {@code ids} as its one uuid[] parameter. */
    static Set<UUID> uuidsAnswered(Connection c, String sql, Collection<UUID> ids) throws SQLException {
        OneRoundTrip.UuidsAnswered query = new OneRoundTrip.UuidsAnswered(sql, ids);
        OneRoundTrip.run(c, List.of(query));
        return query.answered();
    }

    private static void addToDelta(Map<Long, AccountDelta> deltas, Posting p) {
        AccountDelta delta = deltas.computeIfAbsent(p.accountId(), id -> new AccountDelta());
        if (p.amountNanoUsd() >= 0) {
            delta.debitsNanoUsd = Math.addExact(delta.debitsNanoUsd, p.amountNanoUsd());
        } else {
            delta.creditsNanoUsd = Math.addExact(delta.creditsNanoUsd, -p.amountNanoUsd());
        }
    }

    /**
     * Applies summed balance changes, locking the accounts in ascending id order so that concurrent
     * batches never deadlock. The database's no-overdraft check fails the statement (SQLState 23514)
     * when an account would go below its limit.
     */
    static void applyDeltas(Connection c, Map<Long, AccountDelta> deltas) throws SQLException {
        if (deltas.isEmpty()) {
            return;
        }
        TreeMap<Long, AccountDelta> ordered = new TreeMap<>(deltas);
        int n = ordered.size();
        Long[] ids = new Long[n];
        Long[] debits = new Long[n];
        Long[] credits = new Long[n];
        Long[] held = new Long[n];
        int i = 0;
        for (Map.Entry<Long, AccountDelta> e : ordered.entrySet()) {
            ids[i] = e.getKey();
            debits[i] = e.getValue().debitsNanoUsd;
            credits[i] = e.getValue().creditsNanoUsd;
            held[i] = e.getValue().heldNanoUsd;
            i++;
        }
        Array idArray = c.createArrayOf("int8", ids);
        try (PreparedStatement lock = c.prepareStatement(
                "select id from ledger_accounts where id = any(?) order by id for no key update")) {
            lock.setArray(1, idArray);
            lock.executeQuery().close();
        }
        try (PreparedStatement ps = c.prepareStatement("""
                update ledger_accounts a
                set debits_posted_nano_usd = a.debits_posted_nano_usd + d.debits,
                    credits_posted_nano_usd = a.credits_posted_nano_usd + d.credits,
                    held_nano_usd = a.held_nano_usd + d.held
                from unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) as d(id, debits, credits, held)
                where a.id = d.id""")) {
            ps.setArray(1, idArray);
            ps.setArray(2, c.createArrayOf("int8", debits));
            ps.setArray(3, c.createArrayOf("int8", credits));
            ps.setArray(4, c.createArrayOf("int8", held));
            int updated = ps.executeUpdate();
            if (updated != n) {
                throw new LedgerInvariantViolation("expected to update " + n + " accounts, updated " + updated);
            }
        }
    }

    /** Whether {@code e} is (or was caused by) a journal entry written with an id that is already posted. */
    static boolean isAlreadyPosted(Throwable e) {
        return isUniqueViolation(e, "journal_entries_pkey");
    }

    /** Whether {@code e} (or a cause) is PostgreSQL refusing a second row with the same key of {@code constraint}. */
    static boolean isUniqueViolation(Throwable e, String constraint) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof PSQLException sql && "23505".equals(sql.getSQLState()) && sql.getServerErrorMessage() != null
                    && constraint.equals(sql.getServerErrorMessage().getConstraint())) {
                return true;
            }
        }
        return false;
    }

    static boolean isOverdraft(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && "23514".equals(sql.getSQLState())
                    && String.valueOf(sql.getMessage()).contains("no_overdraft_check")) {
                return true;
            }
        }
        return false;
    }
}
