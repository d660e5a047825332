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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Journal entries: posted (idempotently, by the client's id), read, and corrected by reversal. Every write is
 * one database transaction that the database itself keeps balanced and within the accounts' limits.
 */
@ApplicationScoped
public class JournalEntries {

    @Inject
    AgroalDataSource dataSource;

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
}
