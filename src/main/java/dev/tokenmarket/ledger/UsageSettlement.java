package dev.tokenmarket.ledger;

import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageEventCodec;
import dev.tokenmarket.platform.Money;
import io.agroal.api.AgroalDataSource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * Turns usage events into journal entries: buyer wallet debited the cost, provider payable credited the
 * cost less the fee, platform revenue credited the fee, and the request's hold captured with its
 * remainder released. A batch is one database transaction; an event id already posted posts nothing.
 */
@ApplicationScoped
public class UsageSettlement {

    private static final Logger LOG = Logger.getLogger(UsageSettlement.class);

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LedgerAccounts accounts;

    /** An event the ledger will not post, and why; it goes to the dead-letter topic. */
    public record Rejected(UsageEvent event, String reason) {
    }

    public record Outcome(int posted, int duplicates, List<Rejected> rejected) {
    }

    /**
     * Settles a batch: all of it in one transaction, or, when that fails, event by event to isolate the bad
     * ones. {@code canonicalJson} has, for each event, the bytes it came in when those are exactly its
     * {@link UsageEventCodec#toJson canonical form} (the entry keeps their digest), or null to encode it.
     */
    public Outcome settle(List<UsageEvent> events, List<byte[]> canonicalJson) {
        List<Rejected> rejected = new ArrayList<>();
        Map<UUID, Prepared> prepared = LinkedHashMap.newLinkedHashMap(events.size());
        for (int i = 0; i < events.size(); i++) {
            UsageEvent event = events.get(i);
            String problem = check(event);
            if (problem != null) {
                rejected.add(new Rejected(event, problem));
                continue;
            }
            try {
                // A batch may carry the same event twice (a producer retry); the first copy wins.
                if (!prepared.containsKey(event.eventId())) {
                    prepared.put(event.eventId(), prepare(event, canonicalJson.get(i)));
                }
            } catch (RuntimeException e) {
                rejected.add(new Rejected(event, e.getMessage()));
            }
        }
        if (prepared.isEmpty()) {
            return new Outcome(0, events.size() - rejected.size(), rejected);
        }
        List<Prepared> batch = List.copyOf(prepared.values());
        try {
            BatchResult result = writeInNewTransaction(batch);
            rejected.addAll(result.conflicts);
            return new Outcome(result.posted, events.size() - rejected.size() - result.posted, rejected);
        } catch (RuntimeException batchFailure) {
            if (batch.size() == 1 && !isOverdraft(batchFailure)) {
                throw batchFailure;
            }
            LOG.warnf("settling a batch of %d failed (%s); settling its events one by one", batch.size(),
                    batchFailure.getMessage());
        }
        int posted = 0;
        for (Prepared one : batch) {
            try {
                BatchResult result = writeInNewTransaction(List.of(one));
                posted += result.posted;
                rejected.addAll(result.conflicts);
            } catch (RuntimeException e) {
                if (!isOverdraft(e)) {
                    throw e;
                }
                rejected.add(new Rejected(one.event, "the buyer wallet cannot cover the cost and the request's hold is no longer open"));
            }
        }
        return new Outcome(posted, events.size() - rejected.size() - posted, rejected);
    }

    private static boolean isOverdraft(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && JournalWriter.isOverdraft(sql)) {
                return true;
            }
        }
        return false;
    }

    /** Null when the event's amounts add up; otherwise what is wrong with them. */
    static String check(UsageEvent e) {
        long cost = Money.cost(e.promptTokens(), e.promptPriceNanoUsdPerMillionTokens(),
                e.completionTokens(), e.completionPriceNanoUsdPerMillionTokens());
        if (cost != e.costNanoUsd()) {
            return "amounts do not add up: cost is " + e.costNanoUsd() + " nano-USD but tokens at the prices give " + cost;
        }
        if (e.feeNanoUsd() < 0 || e.feeNanoUsd() > e.costNanoUsd()) {
            return "amounts do not add up: fee " + e.feeNanoUsd() + " is outside 0.." + e.costNanoUsd();
        }
        if (e.model().indexOf('\u0000') >= 0) {
            // PostgreSQL text cannot hold it: the entry's description would fail its batch again and again.
            return "the model name contains a NUL character, which the ledger cannot store";
        }
        return null;
    }

    private record Prepared(UsageEvent event, EntryDraft draft) {
    }

    private Prepared prepare(UsageEvent e, byte[] canonicalJson) {
        long wallet = accounts.walletOf(e.buyerOrgId());
        long payable = accounts.payableOf(e.providerOrgId());
        long revenue = accounts.platformRevenue();
        long providerShare = e.costNanoUsd() - e.feeNanoUsd();
        List<Posting> postings = List.of(
                Posting.debit(wallet, e.costNanoUsd()),
                Posting.credit(payable, providerShare),
                Posting.credit(revenue, e.feeNanoUsd()));
        StringBuilder metadata = new StringBuilder(256).append("{\"generation_id\":\"").append(e.eventId())
                .append("\",\"hold_id\":\"").append(e.holdId()).append("\",\"endpoint_id\":\"").append(e.endpointId())
                .append("\",\"model\":");
        // Escaped as JSON escapes it, control characters included: the journal keeps metadata as json, and a
        // raw line break in the model's name would fail the whole batch's COPY.
        UsageEventCodec.appendJsonString(metadata, e.model()).append(",\"prompt_tokens\":").append(e.promptTokens())
                .append(",\"completion_tokens\":").append(e.completionTokens()).append('}');
        EntryDraft draft = new EntryDraft(e.eventId(), EntryCode.USAGE,
                "usage of " + e.model() + ": " + e.promptTokens() + " prompt + " + e.completionTokens() + " completion tokens",
                metadata.toString(), digest(canonicalJson != null ? canonicalJson
                        : UsageEventCodec.toJson(e).getBytes(StandardCharsets.UTF_8)), postings, null);
        return new Prepared(e, draft);
    }

    private record BatchResult(int posted, int holdsCaptured, List<Rejected> conflicts) {
    }

    /**
     * Writes the batch in a transaction of its own, first as if none of its events had been posted and none
     * of their holds captured before (nearly always true, and it saves looking up every event and hold id);
     * when one was (a redelivery, a replay, a second event naming a captured hold), that transaction fails at
     * a COPY and the batch is written again, carefully: leaving out the posted events and the captured holds.
     */
    private BatchResult writeInNewTransaction(List<Prepared> batch) {
        BatchResult result;
        try {
            result = QuarkusTransaction.requiringNew().call(() -> write(batch, false));
        } catch (RuntimeException e) {
            if (!JournalWriter.isAlreadyPosted(e) && !isAlreadyCaptured(e)) {
                throw e;
            }
            result = QuarkusTransaction.requiringNew().call(() -> write(batch, true));
        }
        // Counted once committed: a transaction that failed and is written again captured nothing.
        LedgerMetrics.holdsCaptured(result.holdsCaptured());
        return result;
    }

    private static boolean isAlreadyCaptured(Throwable e) {
        return JournalWriter.isUniqueViolation(e, "hold_captures_pkey");
    }

    private BatchResult write(List<Prepared> batch, boolean careful) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            // Every row this transaction reads it finds by primary key, a few thousand among millions; the
            // planner, costing random reads as if from disk, would otherwise scan the whole holds table.
            try (PreparedStatement ps = c.prepareStatement("set local enable_seqscan = off")) {
                ps.execute();
            }
            Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
            List<EntryDraft> drafts = batch.stream().map(Prepared::draft).toList();
            List<EntryDraft> written = JournalWriter.copyEntries(c, drafts, careful, deltas);
            if (written.size() == batch.size()) {
                int captured = captureHolds(c, batch, careful, deltas);
                JournalWriter.applyDeltas(c, deltas);
                return new BatchResult(batch.size(), captured, List.of());
            }
            Set<UUID> inserted = HashSet.newHashSet(written.size());
            written.forEach(d -> inserted.add(d.id()));
            int captured = captureHolds(c, batch.stream().filter(p -> inserted.contains(p.event.eventId())).toList(),
                    careful, deltas);
            JournalWriter.applyDeltas(c, deltas);
            return new BatchResult(inserted.size(), captured, conflicts(c, batch, inserted));
        }
    }

    /**
     * Captures each posted event's hold for its cost (at most the hold's amount) and releases the rest of it
     * from the account's held amount. A capture is an inserted row (hold_captures), so the hold itself is not
     * rewritten; the holds are read first (their account, amount and status), then the captures are written
     * with COPY. A hold still pending (the event was metered without moving it to settling) is first moved
     * to settling, in its own statement: its row lock makes that exclusive with the expiry. A hold already
     * expired or voided is not captured (its amount was released then), and the event posts without it; so
     * does a hold another event captured first. {@code careful}: look up which holds are captured already
     * instead of failing the COPY on them. Answers how many holds it captured.
     */
    private static int captureHolds(Connection c, List<Prepared> posted, boolean careful,
                                     Map<Long, JournalWriter.AccountDelta> deltas) throws SQLException {
        if (posted.isEmpty()) {
            return 0;
        }
        Map<UUID, Prepared> byHold = LinkedHashMap.newLinkedHashMap(posted.size());
        for (Prepared p : posted) {
            byHold.putIfAbsent(p.event.holdId(), p);
        }
        List<UUID> holdIds = List.copyOf(byHold.keySet());
        Set<UUID> captured = careful
                ? JournalWriter.uuidsAnswered(c, "select hold_id from hold_captures where hold_id = any(?)", holdIds)
                : Set.of();
        BinaryCopyRows rows = new BinaryCopyRows(holdIds.size() * 58);
        List<UUID> pending = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(
                "select id, account_id, amount_nano_usd, status from holds where id = any(?)")) {
            ps.setArray(1, c.createArrayOf("uuid", holdIds.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    UUID holdId = rs.getObject(1, UUID.class);
                    HoldStatus status = HoldStatus.ofWire(rs.getString(4));
                    if (status == HoldStatus.PENDING) {
                        pending.add(holdId);
                    } else if (status == HoldStatus.SETTLING && !captured.contains(holdId)) {
                        long amount = rs.getLong(3);
                        UsageEvent event = byHold.get(holdId).event;
                        rows.row(3).uuid(holdId).uuid(event.eventId()).bigint(Math.min(event.costNanoUsd(), amount));
                        release(deltas, rs.getLong(2), amount);
                    }
                }
            }
        }
        if (rows.rows() > 0) {
            rows.copyIn(c, "copy hold_captures (hold_id, entry_id, captured_nano_usd) from stdin (format binary)");
        }
        if (pending.isEmpty()) {
            return rows.rows();
        }
        // Those the expiry took first stay unmoved, and the capture below passes them over.
        Set<UUID> moved = SpotHolds.markSettling(c, pending);
        return rows.rows() + captureHolds(c, posted.stream().filter(p -> moved.contains(p.event.holdId())).toList(),
                careful, deltas);
    }

    private static void release(Map<Long, JournalWriter.AccountDelta> deltas, long accountId, long heldNanoUsd) {
        deltas.computeIfAbsent(accountId, id -> new JournalWriter.AccountDelta()).heldNanoUsd -= heldNanoUsd;
    }

    /** Events whose id was already posted from different content: not a retry, so not silently dropped. */
    private static List<Rejected> conflicts(Connection c, List<Prepared> batch, Set<UUID> inserted) throws SQLException {
        List<Prepared> duplicates = batch.stream().filter(p -> !inserted.contains(p.event.eventId())).toList();
        Map<UUID, byte[]> stored = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(
                "select id, request_sha256 from journal_entries where id = any(?)")) {
            ps.setArray(1, c.createArrayOf("uuid", duplicates.stream().map(p -> p.event.eventId()).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    stored.put(rs.getObject(1, UUID.class), rs.getBytes(2));
                }
            }
        }
        List<Rejected> result = new ArrayList<>();
        for (Prepared p : duplicates) {
            if (!Arrays.equals(stored.get(p.event.eventId()), p.draft.requestSha256())) {
                result.add(new Rejected(p.event, "event id " + p.event.eventId() + " was already settled with different content"));
            }
        }
        return result;
    }

    /** One per consumer thread: looking the algorithm up for every event was a visible cost. */
    private static final ThreadLocal<MessageDigest> SHA_256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    });

    static byte[] digest(String text) {
        return digest(text.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] digest(byte[] bytes) {
        return SHA_256.get().digest(bytes);
    }
}
