package dev.tokenmarket.ledger;

import dev.tokenmarket.metering.MeteredGenerations;
import dev.tokenmarket.metering.UsageDeadLetters;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * What finance reads: accounts, statements per account and period, and the reconciliation of metered
 * usage against the ledger. Read-only; every figure comes from the postings, not from cached totals,
 * except where a report says it shows the stored balance.
 */
@ApplicationScoped
public class FinanceReports {

    /** Dead letters listed one by one in a reconciliation report (all are counted). */
    private static final int DEAD_LETTERS_LISTED_MAX = 100;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ConsumerLag consumerLag;

    @Inject
    MeteredGenerations meteredGenerations;

    @Inject
    UsageDeadLetters deadLetters;

    /** A ledger account with its stored totals, as finance sees it (the accounts list and the trial balance). */
    public record Account(long id, String code, UUID orgId, AccountKind kind, String type, String normalSide,
                          long debitsNanoUsd, long creditsNanoUsd, long heldNanoUsd, long creditLimitNanoUsd) {

        /** Balance on the account's normal side. */
        long balanceNanoUsd() {
            return onNormalSide(normalSide, debitsNanoUsd, creditsNanoUsd);
        }

        Map<String, Object> view() {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("id", id);
            row.put("code", code);
            row.put("org_id", orgId);
            row.put("kind", kind.wire());
            row.put("type", type);
            row.put("normal_side", normalSide);
            row.put("debits", Money.formatUsd(debitsNanoUsd));
            row.put("credits", Money.formatUsd(creditsNanoUsd));
            row.put("balance", Money.formatUsd(balanceNanoUsd()));
            row.put("held", Money.formatUsd(heldNanoUsd));
            row.put("credit_limit", Money.formatUsd(creditLimitNanoUsd));
            return row;
        }
    }

    static long onNormalSide(String normalSide, long debits, long credits) {
        return "debit".equals(normalSide) ? debits - credits : credits - debits;
    }

    private static final String ACCOUNT_COLUMNS = """
            id, code, org_id, kind, type, normal_side, debits_posted_nano_usd, credits_posted_nano_usd,
            held_nano_usd, credit_limit_nano_usd""";

    private static Account account(ResultSet rs) throws SQLException {
        return new Account(rs.getLong(1), rs.getString(2), rs.getObject(3, UUID.class), AccountKind.ofWire(rs.getString(4)),
                rs.getString(5), rs.getString(6), rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getLong(10));
    }

    /** Every account, or those of one organization. */
    public List<Account> accounts(UUID orgId) {
        String sql = "select " + ACCOUNT_COLUMNS + " from ledger_accounts"
                + (orgId == null ? "" : " where org_id = ?") + " order by id";
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            if (orgId != null) {
                ps.setObject(1, orgId);
            }
            List<Account> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(account(rs));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not list accounts", e);
        }
    }

    /** The account with this numeric id or this code (such as {@code platform:revenue}); 404 when there is none. */
    public Account account(String idOrCode) {
        boolean numeric = idOrCode.matches("\\d{1,18}");
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + ACCOUNT_COLUMNS + " from ledger_accounts where "
                     + (numeric ? "id = ?" : "code = ?"))) {
            if (numeric) {
                ps.setLong(1, Long.parseLong(idOrCode));
            } else {
                ps.setString(1, idOrCode);
            }
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.NOT_FOUND, "No ledger account '" + idOrCode
                            + "'. GET /api/ledger/accounts lists them (by id or code).");
                }
                return account(rs);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read account " + idOrCode, e);
        }
    }

    /** One line of a statement: an entry's net effect on the account, and the balance after it. */
    public record StatementLine(UUID entryId, Instant createdAt, String code, String description,
                                long debitNanoUsd, long creditNanoUsd, long balanceNanoUsd, UUID reversesEntryId) {
    }

    /** A statement's figures, known before its lines are read. */
    public record StatementTotals(long openingNanoUsd, long debitsNanoUsd, long creditsNanoUsd, long closingNanoUsd) {
    }

    /** Where a statement goes as it is read: its totals first, then every line, oldest first. */
    public interface StatementWriter {
        void begin(StatementTotals totals) throws IOException;

        void line(StatementLine line) throws IOException;

        void end() throws IOException;
    }

    /** Lines fetched from PostgreSQL at a time: a statement of millions of lines never sits in memory whole. */
    private static final int STATEMENT_FETCH_SIZE = 5_000;

    /** Debits and credits (as positive amounts) of a set of postings. */
    private static final String POSTING_SUMS = """
            select coalesce(sum(p.amount_nano_usd) filter (where p.amount_nano_usd > 0), 0),
                   coalesce(-sum(p.amount_nano_usd) filter (where p.amount_nano_usd < 0), 0)
            from postings p join journal_entries e on e.id = p.entry_id
            """;


    /**
     * Writes the account's statement for [from, to): the balance before {@code from}, the totals and the
     * balance at {@code to} (all on the account's normal side and recomputed from the postings), then the
     * entries of the period oldest first, streamed from one snapshot so that they add up to the totals
     * whatever is posted meanwhile. No length limit: the platform revenue account has a line per request.
     */
    public void statement(Account account, Instant from, Instant to, StatementWriter out) throws IOException {
        try (Connection c = dataSource.getConnection()) {
            int isolation = c.getTransactionIsolation();
            // One snapshot for the balances, the totals and the lines, so they agree under concurrent posting;
            // inside a transaction the driver also fetches the lines in chunks instead of all at once.
            c.setAutoCommit(false);
            c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
            c.setReadOnly(true);
            try {
                long[] before = sums(c, POSTING_SUMS + "where p.account_id = ? and e.created_at < ?", account.id(), from, null);
                long[] during = sums(c, POSTING_SUMS + "where p.account_id = ? and e.created_at >= ? and e.created_at < ?",
                        account.id(), from, to);
                long opening = onNormalSide(account.normalSide(), before[0], before[1]);
                long closing = opening + onNormalSide(account.normalSide(), during[0], during[1]);
                out.begin(new StatementTotals(opening, during[0], during[1], closing));
                long balance = opening;
                try (PreparedStatement ps = c.prepareStatement("""
                        select e.id, e.created_at, e.code, e.description, e.reverses_entry_id,
                               coalesce(sum(p.amount_nano_usd) filter (where p.amount_nano_usd > 0), 0),
                               coalesce(-sum(p.amount_nano_usd) filter (where p.amount_nano_usd < 0), 0)
                        from postings p join journal_entries e on e.id = p.entry_id
                        where p.account_id = ? and e.created_at >= ? and e.created_at < ?
                        group by e.id, e.created_at, e.code, e.description, e.reverses_entry_id
                        order by e.created_at, e.id""")) {
                    ps.setFetchSize(STATEMENT_FETCH_SIZE);
                    ps.setLong(1, account.id());
                    ps.setTimestamp(2, Timestamp.from(from));
                    ps.setTimestamp(3, Timestamp.from(to));
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            long debit = rs.getLong(6);
                            long credit = rs.getLong(7);
                            balance += onNormalSide(account.normalSide(), debit, credit);
                            out.line(new StatementLine(rs.getObject(1, UUID.class), rs.getTimestamp(2).toInstant(),
                                    rs.getString(3), rs.getString(4), debit, credit, balance, rs.getObject(5, UUID.class)));
                        }
                    }
                }
                if (balance != closing) {
                    // One snapshot: the lines cannot disagree with the totals unless the ledger itself is broken.
                    throw new LedgerInvariantViolation("statement of account " + account.id() + ": the lines end at "
                            + balance + " nano-USD, the postings give " + closing);
                }
                out.end();
            } finally {
                // The connection goes back to the pool as it came: writable, default isolation, autocommit.
                c.rollback();
                c.setReadOnly(false);
                c.setTransactionIsolation(isolation);
                c.setAutoCommit(true);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not build the statement of account " + account.id(), e);
        }
    }

    /** Debits and credits of one account's postings in [from, to), or before {@code from} when {@code to} is null. */
    private static long[] sums(Connection c, String sql, long accountId, Instant from, Instant to) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, accountId);
            ps.setTimestamp(2, Timestamp.from(from));
            if (to != null) {
                ps.setTimestamp(3, Timestamp.from(to));
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new long[] {rs.getLong(1), rs.getLong(2)};
            }
        }
    }

    /** Per buyer or per provider: metered usage and what the ledger posted for it. */
    private record PartyFigures(UUID orgId, long metered, long meteredNanoUsd, long posted, long postedNanoUsd,
                                long awaiting, long deadLettered, long mismatched) {

        Map<String, Object> view(String amountName) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("org_id", orgId);
            row.put("events_metered", metered);
            row.put(amountName + "_metered", Money.formatUsd(meteredNanoUsd));
            row.put("entries_posted", posted);
            row.put(amountName + "_posted", Money.formatUsd(postedNanoUsd));
            row.put("awaiting_settlement", awaiting);
            row.put("dead_lettered", deadLettered);
            row.put("amount_mismatches", mismatched);
            return row;
        }
    }

    /**
     * Per-party figures as they are added up: the parties of a group are visited in the order finance reads
     * them (PostgreSQL's uuid order, which compares the bytes unsigned).
     */
    private static final class PartyTotals {
        long metered;
        long meteredNanoUsd;
        long posted;
        long postedNanoUsd;
        long awaiting;
        long deadLettered;
        long mismatched;

        void add(long meteredAmount, Long postedAmount, boolean wasPosted, boolean dead) {
            metered++;
            meteredNanoUsd += meteredAmount;
            if (wasPosted) {
                posted++;
                if (postedAmount != null) {
                    postedNanoUsd += postedAmount;
                    if (postedAmount != meteredAmount) {
                        mismatched++;
                    }
                }
            } else if (!dead) {
                awaiting++;
            }
            if (dead) {
                deadLettered++;
            }
        }
    }

    private static final Comparator<UUID> UUID_ORDER = Comparator
            .comparing(UUID::getMostSignificantBits, Long::compareUnsigned)
            .thenComparing(UUID::getLeastSignificantBits, Long::compareUnsigned);

    /** What a usage entry posted to the buyer's wallet (debit) and the provider's payable (credit); null when none. */
    private record PostedUsage(Long walletDebitNanoUsd, Long payableCreditNanoUsd) {
    }

    /*
     * Metered usage is metering's record of generations: the gateway writes a request's generation row, its
     * usage outbox row and its hold's move to 'settling' in one transaction, so it is the ledger-independent
     * record of every event that must reach the ledger. A usage entry's id is its event (generation) id.
     */
    private Map<UUID, PostedUsage> postedUsage(Connection c, List<UUID> entryIds) throws SQLException {
        Map<UUID, PostedUsage> posted = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select p.entry_id,
                       (sum(p.amount_nano_usd) filter (where a.kind = 'buyer_wallet'))::bigint,
                       (-sum(p.amount_nano_usd) filter (where a.kind = 'provider_payable'))::bigint
                from postings p join ledger_accounts a on a.id = p.account_id
                where p.entry_id = any(?)
                group by p.entry_id""")) {
            ps.setArray(1, c.createArrayOf("uuid", entryIds.toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    posted.put(rs.getObject(1, UUID.class),
                            new PostedUsage(rs.getObject(2, Long.class), rs.getObject(3, Long.class)));
                }
            }
        }
        return posted;
    }

    /**
     * Reconciliation of [from, to): usage metered by the gateways against usage entries posted, per buyer
     * and per provider; dead letters; reversals; holds; the outbox backlog; the consumer lag.
     */
    public Map<String, Object> reconciliation(Instant from, Instant to) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("from", from.toString());
        report.put("to", to.toString());
        try (Connection c = dataSource.getConnection()) {
            Map<UUID, PartyTotals> buyers = new TreeMap<>(UUID_ORDER);
            Map<UUID, PartyTotals> providers = new TreeMap<>(UUID_ORDER);
            SQLException[] failed = {null};
            meteredGenerations.forEachChargeChunk(from, to, chunk -> {
                if (failed[0] != null) {
                    return;
                }
                List<UUID> ids = chunk.stream().map(MeteredGenerations.Charge::id).toList();
                Map<UUID, PostedUsage> posted;
                try {
                    posted = postedUsage(c, ids);
                } catch (SQLException e) {
                    failed[0] = e;
                    return;
                }
                Set<UUID> dead = deadLetters.deadLetteredAmong(ids);
                for (MeteredGenerations.Charge g : chunk) {
                    PostedUsage p = posted.get(g.id());
                    boolean isDead = dead.contains(g.id());
                    buyers.computeIfAbsent(g.buyerOrgId(), id -> new PartyTotals())
                            .add(g.costNanoUsd(), p == null ? null : p.walletDebitNanoUsd(), p != null, isDead);
                    providers.computeIfAbsent(g.providerOrgId(), id -> new PartyTotals())
                            .add(g.costNanoUsd() - g.feeNanoUsd(), p == null ? null : p.payableCreditNanoUsd(), p != null, isDead);
                }
            });
            if (failed[0] != null) {
                throw failed[0];
            }
            PartyTotals all = new PartyTotals();
            for (PartyTotals b : buyers.values()) {
                all.metered += b.metered;
                all.meteredNanoUsd += b.meteredNanoUsd;
                all.posted += b.posted;
                all.postedNanoUsd += b.postedNanoUsd;
                all.awaiting += b.awaiting;
                all.deadLettered += b.deadLettered;
                all.mismatched += b.mismatched;
            }
            Map<String, Object> usage = new LinkedHashMap<>();
            usage.put("events_metered", all.metered);
            usage.put("cost_metered", Money.formatUsd(all.meteredNanoUsd));
            usage.put("entries_posted", all.posted);
            usage.put("cost_posted", Money.formatUsd(all.postedNanoUsd));
            usage.put("awaiting_settlement", all.awaiting);
            usage.put("dead_lettered", all.deadLettered);
            usage.put("amount_mismatches", all.mismatched);
            usage.put("entries_without_metering", entriesWithoutMetering(c, from, to));
            report.put("usage", usage);
            report.put("by_buyer", partyViews(buyers, "cost"));
            report.put("by_provider", partyViews(providers, "provider_share"));
            report.put("reversals", reversals(c, from, to));
            report.put("dead_letters", deadLetters(from, to));
            report.put("holds", holds(c, from, to));
            Map<String, Object> outbox = new LinkedHashMap<>();
            outbox.put("unpublished", meteredGenerations.unpublished());
            report.put("outbox", outbox);
            ConsumerLag.Lag lag = consumerLag.measure();
            report.put("consumer_lag", lag.view());
            report.put("reconciled", all.awaiting == 0 && all.deadLettered == 0 && all.mismatched == 0);
            return report;
        } catch (SQLException e) {
            throw new IllegalStateException("could not build the reconciliation report", e);
        }
    }

    private static List<Map<String, Object>> partyViews(Map<UUID, PartyTotals> parties, String amountName) {
        List<Map<String, Object>> views = new ArrayList<>();
        parties.forEach((orgId, t) -> views.add(new PartyFigures(orgId, t.metered, t.meteredNanoUsd, t.posted,
                t.postedNanoUsd, t.awaiting, t.deadLettered, t.mismatched).view(amountName)));
        return views;
    }

    /** Usage entries posted in [from, to) whose event metering has no record of. */
    private long entriesWithoutMetering(Connection c, Instant from, Instant to) throws SQLException {
        List<UUID> entryIds = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select id from journal_entries where code = 'usage' and created_at >= ? and created_at < ?""")) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    entryIds.add(rs.getObject(1, UUID.class));
                }
            }
        }
        long unmetered = 0;
        for (int i = 0; i < entryIds.size(); i += MeteredGenerations.CHUNK_ROWS_MAX) {
            List<UUID> chunk = entryIds.subList(i, Math.min(entryIds.size(), i + MeteredGenerations.CHUNK_ROWS_MAX));
            unmetered += chunk.size() - meteredGenerations.meteredAmong(chunk).size();
        }
        return unmetered;
    }

    private static Map<String, Object> reversals(Connection c, Instant from, Instant to) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                select count(distinct e.id), coalesce(sum(p.amount_nano_usd) filter (where p.amount_nano_usd > 0), 0)
                from journal_entries e join postings p on p.entry_id = e.id
                where e.code = 'reversal' and e.created_at >= ? and e.created_at < ?""")) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                Map<String, Object> view = new LinkedHashMap<>();
                view.put("count", rs.getLong(1));
                view.put("amount", Money.formatUsd(rs.getLong(2)));
                return view;
            }
        }
    }

    private Map<String, Object> deadLetters(Instant from, Instant to) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("count", deadLetters.countIn(from, to));
        List<Map<String, Object>> listed = new ArrayList<>();
        for (UsageDeadLetters.Recorded d : deadLetters.firstIn(from, to, DEAD_LETTERS_LISTED_MAX)) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("id", d.id());
            row.put("event_id", d.eventId());
            row.put("source", d.sourceTopic() + "-" + d.sourcePartition() + "@" + d.sourceOffset());
            row.put("reason", d.reason());
            row.put("created_at", d.createdAt().toString());
            listed.add(row);
        }
        view.put("first", listed);
        return view;
    }

    private static Map<String, Object> holds(Connection c, Instant from, Instant to) throws SQLException {
        Map<String, Object> view = new LinkedHashMap<>();
        Map<String, Object> placed = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select status, count(*), sum(amount_nano_usd), coalesce(sum(captured_nano_usd), 0)
                from hold_states where created_at >= ? and created_at < ? group by status order by status""")) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("count", rs.getLong(2));
                    row.put("amount", Money.formatUsd(rs.getLong(3)));
                    row.put("captured", Money.formatUsd(rs.getLong(4)));
                    placed.put(rs.getString(1), row);
                }
            }
        }
        view.put("placed_in_period_by_status", placed);
        try (PreparedStatement ps = c.prepareStatement("""
                select count(*) filter (where status = 'pending'),
                       count(*) filter (where status = 'settling'),
                       coalesce(sum(amount_nano_usd), 0),
                       count(*) filter (where status = 'pending' and expires_at < now()),
                       min(created_at)
                from hold_states where status in ('pending', 'settling')""");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            Map<String, Object> open = new LinkedHashMap<>();
            open.put("pending", rs.getLong(1));
            open.put("settling", rs.getLong(2));
            open.put("amount", Money.formatUsd(rs.getLong(3)));
            open.put("past_expiry", rs.getLong(4));
            Timestamp oldest = rs.getTimestamp(5);
            open.put("oldest_created_at", oldest == null ? null : oldest.toInstant().toString());
            view.put("open_now", open);
        }
        return view;
    }

    private static long count(Connection c, String sql, Instant... period) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < period.length; i++) {
                ps.setTimestamp(i + 1, Timestamp.from(period[i]));
            }
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
