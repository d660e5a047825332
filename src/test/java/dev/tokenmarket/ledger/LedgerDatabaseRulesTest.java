package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.OneRoundTrip;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The ledger's rules as the database enforces them for anyone with a connection, not only for the
 * application's code: entries and postings are immutable, every entry balances and is complete, postings
 * and holds refer to rows that exist, wallets stay above their limit, and holds only move forward.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class LedgerDatabaseRulesTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    SpotHolds spotHolds;

    @AfterEach
    void ledgerStillBalances() {
        Market.assertLedgerBalanced();
    }

    @Test
    void postedEntriesCannotBeChangedOrRemoved() throws Exception {
        Org buyer = Market.org("rules buyer 1", "buyer");
        String entryId = Market.deposit(buyer, "5.00", "rules-" + UUID.randomUUID()).then().statusCode(201)
                .extract().path("entry_id");
        String[] tampering = {
                "update postings set amount_nano_usd = amount_nano_usd * 2 where entry_id = '" + entryId + "'",
                "delete from postings where entry_id = '" + entryId + "'",
                "update journal_entries set description = 'edited' where id = '" + entryId + "'",
                "delete from journal_entries where id = '" + entryId + "'",
                "truncate postings",
                "truncate journal_entries cascade",
                "delete from ledger_accounts where org_id = '" + buyer.id() + "'",
        };
        for (String sql : tampering) {
            SQLException refused = assertThrows(SQLException.class, () -> execute(sql), sql);
            assertEquals("42501", refused.getSQLState(), sql + ": " + refused.getMessage());
        }
        assertEquals("5.00", Market.balance(buyer).get("available"), "the deposit is untouched");
    }

    @Test
    void anEntryThatDoesNotBalanceIsIncompleteOrPointsNowhereIsRefused() throws Exception {
        long wallet = walletOf(Market.org("rules buyer 2", "buyer"));
        long revenue = accountId("platform:revenue");
        UUID unbalanced = UUID.randomUUID();
        SQLException sumsToOne = assertThrows(SQLException.class, () -> inOneTransaction(
                entry(unbalanced, 2),
                postings(unbalanced, new long[]{wallet, revenue}, new long[]{-100, 101})));
        assertEquals("23514", sumsToOne.getSQLState(), sumsToOne.getMessage());

        UUID incomplete = UUID.randomUUID();
        SQLException oneOfTwo = assertThrows(SQLException.class, () -> inOneTransaction(
                entry(incomplete, 2),
                postings(incomplete, new long[]{wallet}, new long[]{0})));
        assertEquals("23514", oneOfTwo.getSQLState(), oneOfTwo.getMessage());

        UUID missing = UUID.randomUUID();
        SQLException noEntry = assertThrows(SQLException.class, () -> inOneTransaction(
                postings(missing, new long[]{wallet, revenue}, new long[]{-100, 100})));
        assertEquals("23514", noEntry.getSQLState(), noEntry.getMessage());

        UUID toNowhere = UUID.randomUUID();
        SQLException noAccount = assertThrows(SQLException.class, () -> inOneTransaction(
                entry(toNowhere, 2),
                postings(toNowhere, new long[]{revenue, 987_654_321L}, new long[]{100, -100})));
        assertEquals("23503", noAccount.getSQLState(), noAccount.getMessage());

        for (UUID id : new UUID[]{unbalanced, incomplete, missing, toNowhere}) {
            assertEquals(0, longValue("select count(*) from journal_entries where id = '" + id + "'")
                    + longValue("select count(*) from postings where entry_id = '" + id + "'"), "nothing of " + id + " was written");
        }
    }

    @Test
    void anEntryWhosePostingsNeverCameIsListedByTheVerification() throws Exception {
        // The one incomplete entry the database cannot refuse (its postings would come in a later
        // statement); it moves no money, and the verification names it.
        long wallet = walletOf(Market.org("rules buyer 7", "buyer"));
        long revenue = accountId("platform:revenue");
        UUID bare = UUID.randomUUID();
        UUID complete = UUID.randomUUID();
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                entry(bare, 2).run(c);
                entry(complete, 2).run(c);
                postings(complete, new long[]{wallet, revenue}, new long[]{-100, 100}).run(c);
                List<UUID> listed = LedgerVerification.entriesWithoutPostings(c, 100);
                assertTrue(listed.contains(bare), "the entry without postings is listed: " + listed);
                assertFalse(listed.contains(complete), "the complete entry is not: " + listed);
            } finally {
                c.rollback();
            }
        }
        List<String> committed = Market.as(Market.ADMIN_KEY).get("/api/ledger/verification").then().statusCode(200)
                .extract().path("entries_without_postings");
        assertEquals(List.of(), committed, "none in the ledger itself");
    }

    @Test
    void aWalletCannotBeTakenBelowZeroEvenByHand() {
        Org buyer = Market.org("rules buyer 3", "buyer");
        Market.funded(buyer, "1.00");
        SQLException refused = assertThrows(SQLException.class, () -> execute(
                "update ledger_accounts set debits_posted_nano_usd = debits_posted_nano_usd + 1000000001 where id = "
                        + walletOf(buyer)));
        assertEquals("23514", refused.getSQLState());
        assertTrue(refused.getMessage().contains("no_overdraft_check"), refused.getMessage());
        assertEquals("1.00", Market.balance(buyer).get("available"));
    }

    @Test
    void aHoldThatMustKeepAnAmountAvailableIsPlacedOnlyWhenTheWalletStillHasItAfterward() throws Exception {
        // Holds the gateway places ahead of demand must leave the wallet's own requests their balance.
        Org buyer = Market.org("rules buyer 9", "buyer");
        Market.funded(buyer, "1.00");
        long wallet = walletOf(buyer);
        Instant expires = Instant.now().plusSeconds(600);
        List<SpotHolds.Draft> drafts = List.of(
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 300_000_000L, "leaves exactly 0.70", expires, 700_000_000L),
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 100_000_000L, "would leave 0.60 of 0.70", expires, 700_000_000L),
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 100_000_000L, "keeps nothing", expires));
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                boolean[] placed = SpotHolds.placeAll(c, drafts);
                assertEquals(List.of(true, false, true), List.of(placed[0], placed[1], placed[2]));
                try (PreparedStatement ps = c.prepareStatement("select held_nano_usd from ledger_accounts where id = ?")) {
                    ps.setLong(1, wallet);
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next());
                        assertEquals(400_000_000L, rs.getLong(1), "only the two placed holds are held");
                    }
                }
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        }
    }

    @Test
    void holdsPlacedTogetherAreEachPlacedOnlyWhenWhatTheOnesBeforeThemLeftCoversThem() throws Exception {
        // The gateway places the holds of concurrent requests in one call: a group must never hold more than
        // the wallet has, and a smaller hold after a refused one still fits.
        Org buyer = Market.org("rules buyer 7", "buyer");
        Market.funded(buyer, "1.00");
        long wallet = walletOf(buyer);
        long nanoUsd = 1_000_000_000L;
        Instant expires = Instant.now().plusSeconds(600);
        List<SpotHolds.Draft> drafts = List.of(
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 600_000_000L, "first", expires),
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 500_000_000L, "too big for what is left", expires),
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 400_000_000L, "exactly what is left", expires),
                new SpotHolds.Draft(UUID.randomUUID(), wallet, 1, "nothing left", expires));
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                boolean[] placed = SpotHolds.placeAll(c, drafts);
                assertEquals(List.of(true, false, true, false), List.of(placed[0], placed[1], placed[2], placed[3]));
                try (PreparedStatement ps = c.prepareStatement("select held_nano_usd from ledger_accounts where id = ?")) {
                    ps.setLong(1, wallet);
                    try (ResultSet rs = ps.executeQuery()) {
                        assertTrue(rs.next());
                        assertEquals(nanoUsd, rs.getLong(1), "the wallet holds exactly its whole balance");
                    }
                }
                try (PreparedStatement ps = c.prepareStatement(
                        "select reference from holds where account_id = ? and status = 'pending' order by amount_nano_usd desc")) {
                    ps.setLong(1, wallet);
                    List<String> references = new ArrayList<>();
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            references.add(rs.getString(1));
                        }
                    }
                    assertEquals(List.of("first", "exactly what is left"), references);
                }
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        }
        assertEquals("1.00", Market.balance(buyer).get("available"), "rolled back: nothing held");
    }

    @Test
    void holdsSentInOneRoundTripWithACommandThatFailsAreNotPlaced() throws Exception {
        // The gateway's group commit sends a group's holds and meterings as one statement on an autocommit
        // connection and relies on PostgreSQL running it as one transaction: all of it, or none of it.
        Org buyer = Market.org("rules buyer 8", "buyer");
        Market.funded(buyer, "1.00");
        long wallet = walletOf(buyer);
        UUID holdId = UUID.randomUUID();
        SpotHolds.PlaceCommand placing = new SpotHolds.PlaceCommand(List.of(
                new SpotHolds.Draft(holdId, wallet, 600_000_000L, "placed, then undone", Instant.now().plusSeconds(600))));
        OneRoundTrip.Command failing = new OneRoundTrip.Command() {
            @Override
            public String sql() {
                return "select 1 / (? - 1)";
            }

            @Override
            public int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
                ps.setInt(first, 1);
                return 1;
            }
        };
        try (Connection c = dataSource.getConnection()) {
            assertTrue(c.getAutoCommit());
            SQLException divided = assertThrows(SQLException.class, () -> OneRoundTrip.run(c, List.of(placing, failing)));
            assertEquals("22012", divided.getSQLState(), divided.getMessage());
        }
        assertEquals("1.00", Market.balance(buyer).get("available"), "the hold's amount is not held");
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select count(*) from holds where id = ?")) {
            ps.setObject(1, holdId);
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                assertEquals(0, rs.getInt(1), "the hold was not written");
            }
        }

        // The same hold sent alone is placed: the failure above was the other command's, not the hold's.
        try (Connection c = dataSource.getConnection()) {
            OneRoundTrip.run(c, List.of(placing));
        }
        assertTrue(placing.placed()[0]);
        assertEquals("0.40", Market.balance(buyer).get("available"), "0.60 of 1.00 held");
        assertTrue(spotHolds.release(holdId));
        assertEquals("1.00", Market.balance(buyer).get("available"));
    }

    @Test
    void holdsOnlyMoveForwardAndAreCapturedOnceIntoEntriesThatExist() throws Exception {
        Org buyer = Market.org("rules buyer 4", "buyer");
        String someEntry = Market.deposit(buyer, "1.00", "rules-" + UUID.randomUUID()).then().statusCode(201)
                .extract().path("entry_id");
        long wallet = walletOf(buyer);
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                UUID hold = UUID.randomUUID();
                UUID voided = UUID.randomUUID();
                for (UUID id : new UUID[]{hold, voided}) {
                    try (PreparedStatement ps = c.prepareStatement("""
                            insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at)
                            values (?, ?, 1000, 'pending', 'rules test', now() + interval '1 minute')""")) {
                        ps.setObject(1, id);
                        ps.setLong(2, wallet);
                        ps.executeUpdate();
                    }
                }
                String capture = "insert into hold_captures (hold_id, entry_id, captured_nano_usd) values ('" + hold + "', '";
                assertEquals("23514", sqlStateOf(c, capture + someEntry + "', 10)"),
                        "a pending hold is not captured: its usage was never metered");
                assertEquals("42501", sqlStateOf(c, "update holds set amount_nano_usd = 1 where id = '" + hold + "'"));
                assertEquals("42501", sqlStateOf(c, "update holds set id = '" + UUID.randomUUID() + "' where id = '" + hold + "'"));
                assertEquals("42501", sqlStateOf(c, "delete from holds where id = '" + hold + "'"));
                assertNull(sqlStateOf(c, "update holds set status = 'settling' where id = '" + hold + "'"), "metered");

                assertEquals("23503", sqlStateOf(c, capture + UUID.randomUUID() + "', 10)"), "into an entry that does not exist");
                assertEquals("23514", sqlStateOf(c, capture + someEntry + "', 1001)"), "more than the hold");
                assertNull(sqlStateOf(c, capture + someEntry + "', 1000)"), "captured in full");
                assertEquals("23505", sqlStateOf(c, capture + someEntry + "', 10)"), "captured twice");
                assertEquals("42501", sqlStateOf(c, "update hold_captures set captured_nano_usd = 1 where hold_id = '" + hold + "'"));
                assertEquals("42501", sqlStateOf(c, "delete from hold_captures where hold_id = '" + hold + "'"));
                assertEquals("42501", sqlStateOf(c, "update holds set status = 'expired' where id = '" + hold + "'"),
                        "a captured hold does not expire");

                assertNull(sqlStateOf(c, "update holds set status = 'voided' where id = '" + voided + "'"), "a pending hold may be voided");
                assertEquals("42501", sqlStateOf(c, "update holds set status = 'pending' where id = '" + voided + "'"),
                        "a voided hold stays voided");
            } finally {
                c.rollback();
            }
        }
    }

    @Test
    void aReversalNamesOneEntryThatExistsAndIsNotItselfAReversal() throws Exception {
        Org buyer = Market.org("rules buyer 5", "buyer");
        String deposit = Market.deposit(buyer, "1.00", "rules-" + UUID.randomUUID()).then().statusCode(201)
                .extract().path("entry_id");
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                assertEquals("23514", sqlStateOf(c, entryRow(UUID.randomUUID(), "reversal", null)), "a reversal of nothing");
                assertEquals("23514", sqlStateOf(c, entryRow(UUID.randomUUID(), "adjustment", deposit)),
                        "an entry naming one it reverses is a reversal");
                assertEquals("23503", sqlStateOf(c, entryRow(UUID.randomUUID(), "reversal", UUID.randomUUID().toString())),
                        "a reversal of an entry that does not exist");
                UUID reversal = UUID.randomUUID();
                assertNull(sqlStateOf(c, entryRow(reversal, "reversal", deposit)), "the deposit's reversal");
                assertEquals("23505", sqlStateOf(c, entryRow(UUID.randomUUID(), "reversal", deposit)), "reversed twice");
                assertEquals("23514", sqlStateOf(c, entryRow(UUID.randomUUID(), "reversal", reversal.toString())),
                        "a reversal reversed");
            } finally {
                c.rollback();
            }
        }
    }

    /**
     * The checks behind every settlement batch read the rows their statement names by key, whatever the
     * planner believes about the tables: a plan made while the journal was small used to read the whole
     * journal for every batch after it (migration V13). Planning costs that make reading a whole table look
     * nearly free, and reading by key dear, stand in for that small journal; the plans are the database's own
     * (auto_explain), for the checks of an insert of entries, their postings, a hold's move and its capture.
     */
    @Test
    void theChecksReadTheRowsTheirStatementNamesByKeyWhateverThePlannerBelieves() throws Exception {
        long wallet = walletOf(Market.org("rules buyer 6", "buyer"));
        long revenue = accountId("platform:revenue");
        List<String> plans = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            try {
                // Plans this connection made before (cached by PL/pgSQL) are made again under these costs.
                for (String setting : new String[]{"discard plans", "load 'auto_explain'",
                        "set local auto_explain.log_min_duration = 0", "set local auto_explain.log_nested_statements = on",
                        "set local auto_explain.log_level = notice", "set local client_min_messages = notice",
                        "set local seq_page_cost = 0.001", "set local cpu_tuple_cost = 0.00001",
                        "set local random_page_cost = 1000"}) {
                    s.execute(setting);
                }
                UUID hold = UUID.randomUUID();
                String[] statements = {
                        """
                        insert into journal_entries (id, code, description, request_sha256, posting_count)
                        select ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'adjustment', 'rules test', '\\x00', 2
                        from generate_series(1, 200) i""",
                        "insert into postings (entry_id, seq, account_id, amount_nano_usd) "
                                + "select ('00000000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, seq, "
                                + "case seq when 0 then " + wallet + " else " + revenue + " end, case seq when 0 then 10 else -10 end "
                                + "from generate_series(1, 200) i, generate_series(0, 1) seq",
                        "insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at) values ('"
                                + hold + "', " + wallet + ", 1000, 'pending', 'rules test', now() + interval '1 minute')",
                        "update holds set status = 'settling' where id = '" + hold + "'",
                        "insert into hold_captures (hold_id, entry_id, captured_nano_usd) "
                                + "values ('" + hold + "', '00000000-0000-7000-8000-000000000001', 10)",
                };
                for (String sql : statements) {
                    s.execute(sql);
                    for (SQLWarning w = s.getWarnings(); w != null; w = w.getNextWarning()) {
                        if (w.getMessage().contains("new_postings") || w.getMessage().contains("new_captures")
                                || w.getMessage().contains("new_holds")) {
                            plans.add(w.getMessage());
                        }
                    }
                    s.clearWarnings();
                }
            } finally {
                c.rollback();
                // The plans made under these costs stay cached in this pooled connection after the rollback;
                // a later test's large statement on it would run them (reading the journal once per row).
                s.execute("discard plans");
                c.rollback();
            }
        }
        assertEquals(7, plans.size(), "the checks' plans: 2 of the postings, 2 of the hold's move, 1 of it not being "
                + "captured, 2 of the capture\n" + String.join("\n\n", plans));
        for (String plan : plans) {
            assertFalse(plan.contains("Seq Scan on"), "a whole table read:\n" + plan);
            assertFalse(plan.matches("(?s).*(Hash|Merge)( \\w+)? Join.*"), "a join that reads a table whole:\n" + plan);
        }
    }

    private static String entryRow(UUID id, String code, String reverses) {
        return "insert into journal_entries (id, code, description, request_sha256, posting_count, reverses_entry_id) values ('"
                + id + "', '" + code + "', 'rules test', '\\x00', 2, " + (reverses == null ? "null" : "'" + reverses + "'") + ")";
    }

    /** The SQLState with which the database refuses {@code sql} (null when it accepts it), undoing only that statement. */
    static String sqlStateOf(Connection c, String sql) throws SQLException {
        Savepoint before = c.setSavepoint();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.executeUpdate();
            c.releaseSavepoint(before);
            return null;
        } catch (SQLException e) {
            c.rollback(before);
            return e.getSQLState();
        }
    }

    private interface Step {
        void run(Connection c) throws SQLException;
    }

    private static Step entry(UUID id, int postingCount) {
        return c -> {
            try (PreparedStatement ps = c.prepareStatement("""
                    insert into journal_entries (id, code, description, request_sha256, posting_count)
                    values (?, 'adjustment', 'rules test', '\\x00', ?)""")) {
                ps.setObject(1, id);
                ps.setInt(2, postingCount);
                ps.executeUpdate();
            }
        };
    }

    private static Step postings(UUID entryId, long[] accounts, long[] amounts) {
        return c -> {
            StringBuilder sql = new StringBuilder("insert into postings (entry_id, seq, account_id, amount_nano_usd) values ");
            for (int i = 0; i < accounts.length; i++) {
                sql.append(i == 0 ? "" : ", ").append("('").append(entryId).append("', ").append(i).append(", ")
                        .append(accounts[i]).append(", ").append(amounts[i]).append(")");
            }
            try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
                ps.executeUpdate();
            }
        };
    }

    private void inOneTransaction(Step... steps) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                for (Step step : steps) {
                    step.run(c);
                }
                c.commit();
            } finally {
                if (!c.getAutoCommit()) {
                    c.rollback();
                }
            }
        }
    }

    private void execute(String sql) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.execute();
        }
    }

    private long longValue(String sql) throws SQLException {
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql);
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private long walletOf(Org org) throws SQLException {
        return longValue("select id from ledger_accounts where kind = 'buyer_wallet' and org_id = '" + org.id() + "'");
    }

    private long accountId(String code) throws SQLException {
        return longValue("select id from ledger_accounts where code = '" + code + "'");
    }
}
