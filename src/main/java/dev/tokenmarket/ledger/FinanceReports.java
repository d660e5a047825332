package dev.tokenmarket.ledger;

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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

    /*
     * Metered usage is the generations table: the gateway writes a request's generation row, its usage
     * outbox row and its hold's move to 'settling' in one transaction, so it is the ledger-independent
     * record of every event that must reach the ledger. A usage entry's id is its event (generation) id.
     */
    private static final String USAGE_BY_PARTY = """
            with g as (select id, buyer_org_id, provider_org_id, cost_nano_usd, fee_nano_usd
                       from generations where created_at >= ? and created_at < ?),
                 posted as (select p.entry_id,
                                   sum(p.amount_nano_usd) filter (where a.kind = 'buyer_wallet') as wallet_debit,
                                   -sum(p.amount_nano_usd) filter (where a.kind = 'provider_payable') as payable_credit
                            from postings p join g on g.id = p.entry_id
                            join ledger_accounts a on a.id = p.account_id
                            group by p.entry_id),
                 dead as (select distinct event_id from usage_dead_letters d join g on g.id = d.event_id)
            select g.%1$s,
                   count(*), sum(%2$s),
                   count(posted.entry_id), coalesce(sum(posted.%3$s), 0),
                   count(*) filter (where posted.entry_id is null and dead.event_id is null),
                   count(dead.event_id),
                   count(*) filter (where posted.entry_id is not null and posted.%3$s <> %2$s)
            from g left join posted on posted.entry_id = g.id left join dead on dead.event_id = g.id
            group by g.%1$s order by g.%1$s""";

    /**
     * Reconciliation of [from, to): usage metered by the gateways against usage entries posted, per buyer
     * and per provider; dead letters; reversals; holds; the outbox backlog; the consumer lag.
     */
    public Map<String, Object> reconciliation(Instant from, Instant to) {
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("from", from.toString());
        report.put("to", to.toString());
        try (Connection c = dataSource.getConnection()) {
            List<PartyFigures> buyers = usageByParty(c, from, to, "buyer_org_id", "cost_nano_usd", "wallet_debit");
            List<PartyFigures> providers = usageByParty(c, from, to, "provider_org_id",
                    "(cost_nano_usd - fee_nano_usd)", "payable_credit");
            long metered = 0;
            long meteredNanoUsd = 0;
            long posted = 0;
            long postedNanoUsd = 0;
            long awaiting = 0;
            long dead = 0;
            long mismatched = 0;
            for (PartyFigures b : buyers) {
                metered += b.metered;
                meteredNanoUsd += b.meteredNanoUsd;
                posted += b.posted;
                postedNanoUsd += b.postedNanoUsd;
                awaiting += b.awaiting;
                dead += b.deadLettered;
                mismatched += b.mismatched;
            }
            Map<String, Object> usage = new LinkedHashMap<>();
            usage.put("events_metered", metered);
            usage.put("cost_metered", Money.formatUsd(meteredNanoUsd));
            usage.put("entries_posted", posted);
            usage.put("cost_posted", Money.formatUsd(postedNanoUsd));
            usage.put("awaiting_settlement", awaiting);
            usage.put("dead_lettered", dead);
            usage.put("amount_mismatches", mismatched);
            usage.put("entries_without_metering", count(c, """
                    select count(*) from journal_entries e
                    where e.code = 'usage' and e.created_at >= ? and e.created_at < ?
                      and not exists (select 1 from generations g where g.id = e.id)""", from, to));
            report.put("usage", usage);
            report.put("by_buyer", buyers.stream().map(b -> b.view("cost")).toList());
            report.put("by_provider", providers.stream().map(p -> p.view("provider_share")).toList());
            report.put("reversals", reversals(c, from, to));
            report.put("dead_letters", deadLetters(c, from, to));
            report.put("holds", holds(c, from, to));
            Map<String, Object> outbox = new LinkedHashMap<>();
            outbox.put("unpublished", count(c, "select count(*) from usage_outbox where published_at is null"));
            report.put("outbox", outbox);
            ConsumerLag.Lag lag = consumerLag.measure();
            report.put("consumer_lag", lag.view());
            report.put("reconciled", awaiting == 0 && dead == 0 && mismatched == 0);
            return report;
        } catch (SQLException e) {
            throw new IllegalStateException("could not build the reconciliation report", e);
        }
    }

    private static List<PartyFigures> usageByParty(Connection c, Instant from, Instant to, String party,
                                                   String meteredAmount, String postedAmount) throws SQLException {
        List<PartyFigures> result = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement(USAGE_BY_PARTY.formatted(party, meteredAmount, postedAmount))) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new PartyFigures(rs.getObject(1, UUID.class), rs.getLong(2), rs.getLong(3),
                            rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getLong(8)));
                }
            }
        }
        return result;
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

    private static Map<String, Object> deadLetters(Connection c, Instant from, Instant to) throws SQLException {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("count", count(c, "select count(*) from usage_dead_letters where created_at >= ? and created_at < ?", from, to));
        List<Map<String, Object>> listed = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("""
                select id, event_id, source_topic, source_partition, source_offset, reason, created_at
                from usage_dead_letters where created_at >= ? and created_at < ? order by id limit ?""")) {
            ps.setTimestamp(1, Timestamp.from(from));
            ps.setTimestamp(2, Timestamp.from(to));
            ps.setInt(3, DEAD_LETTERS_LISTED_MAX);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("id", rs.getLong(1));
                    row.put("event_id", rs.getString(2));
                    row.put("source", rs.getString(3) + "-" + rs.getInt(4) + "@" + rs.getLong(5));
                    row.put("reason", rs.getString(6));
                    row.put("created_at", rs.getTimestamp(7).toInstant().toString());
                    listed.add(row);
                }
            }
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
