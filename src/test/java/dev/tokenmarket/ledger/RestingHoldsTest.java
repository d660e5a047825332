package dev.tokenmarket.ledger;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.tokenmarket.ledger.LedgerDatabaseRulesTest.sqlStateOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Holds that back resting orders, on the real database: placed on any account kind, captured in parts into
 * entries of their own, reduced, extended and released in the caller's transaction, and never captured beyond
 * what they hold, by the code or by hand. Every test checks each account it moved against its own arithmetic.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class RestingHoldsTest {

    private static final long USD = 1_000_000_000L;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Balances balances;

    @Inject
    JournalEntries journal;

    @Inject
    LedgerAccounts accounts;

    @Inject
    RestingHolds holds;

    @AfterEach
    void ledgerStillBalances() {
        Market.assertLedgerBalanced();
    }

    /** An account's posted balance and held amount as the test expects them. */
    private record Expected(long postedNanoUsd, long heldNanoUsd) {
        Expected posted(long deltaNanoUsd) {
            return new Expected(postedNanoUsd + deltaNanoUsd, heldNanoUsd);
        }

        Expected held(long deltaNanoUsd) {
            return new Expected(postedNanoUsd, heldNanoUsd + deltaNanoUsd);
        }
    }

    private void assertBalance(Expected expected, long accountId, String what) {
        Balances.Balance b = balances.balance(accountId);
        assertEquals(expected.postedNanoUsd(), b.postedNanoUsd(), what + ": posted");
        assertEquals(expected.heldNanoUsd(), b.heldNanoUsd(), what + ": held");
    }

    private interface InTransaction<T> {
        T run(Connection c) throws SQLException;
    }

    /** Runs {@code work} in one transaction of its own, committed when it returns (or throws an ApiException). */
    private <T> T committed(InTransaction<T> work) throws SQLException {
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (ApiException refused) {
                // A refusal wrote nothing: the transaction is still usable and commits as it was.
                c.commit();
                throw refused;
            } finally {
                if (!c.getAutoCommit()) {
                    c.rollback();
                    c.setAutoCommit(true);
                }
            }
        }
    }

    /** Releases the hold in a transaction of its own and answers what it released. */
    private long released(UUID holdId) throws SQLException {
        return committed(c -> holds.release(c, holdId));
    }

    /** A funded buyer: its wallet id, with {@code usd} deposited. */
    private long fundedWallet(String name, String usd) {
        Org buyer = Market.org(name, "buyer");
        Market.funded(buyer, usd);
        return accounts.walletOf(UUID.fromString(buyer.id()));
    }

    private static EntryDraft clearing(long fromAccount, long toAccount, long amountNanoUsd) {
        UUID id = UUID.randomUUID();
        return new EntryDraft(id, EntryCode.CLEARING, "forward fill " + id, "{}", UsageSettlement.digest("fill|" + id),
                List.of(Posting.debit(fromAccount, amountNanoUsd), Posting.credit(toAccount, amountNanoUsd)), null);
    }

    private long entryCount(UUID entryId) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select count(*) from journal_entries where id = ?")) {
            ps.setObject(1, entryId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void aRestingHoldIsCapturedInPartsEachIntoItsOwnEntryAndItsRestReleased() throws Exception {
        // An order resting for days: three fills capture parts of its hold, then the owner cancels the rest.
        long wallet = fundedWallet("resting buyer 1", "10.00");
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        Expected buyer = new Expected(10 * USD, 0);
        Expected platform = new Expected(balances.balance(clearing).postedNanoUsd(), balances.balance(clearing).heldNanoUsd());
        UUID holdId = UUID.randomUUID();

        RestingHolds.State placed = committed(c -> holds.place(c,
                new RestingHolds.Draft(holdId, wallet, 6 * USD, "order 1", null)));
        buyer = buyer.held(6 * USD);
        assertEquals(HoldStatus.RESTING, placed.status());
        assertNull(placed.expiresAt(), "lives until its owner ends it");
        assertBalance(buyer, wallet, "the buyer after placing");

        long[] fills = {1_500_000_000L, 2_000_000_000L, 250_000_000L};
        List<UUID> entries = new ArrayList<>();
        for (long fill : fills) {
            EntryDraft entry = clearing(wallet, clearing, fill);
            entries.add(entry.id());
            RestingHolds.State after = committed(c -> holds.capture(c, holdId, fill, entry));
            buyer = buyer.posted(-fill).held(-fill);
            platform = platform.posted(fill);
            assertEquals(buyer.heldNanoUsd(), after.heldNanoUsd(), "what the hold still holds");
            assertBalance(buyer, wallet, "the buyer after a fill of " + fill);
            assertBalance(platform, clearing, "the clearing account after a fill of " + fill);
        }
        assertEquals(3, entries.stream().distinct().count());
        for (UUID entry : entries) {
            assertEquals(1, entryCount(entry), "each fill has its entry");
        }

        // A retried fill answers the hold as it stands and moves nothing again.
        EntryDraft retried = new EntryDraft(entries.get(0), EntryCode.CLEARING, "forward fill " + entries.get(0), "{}",
                UsageSettlement.digest("fill|" + entries.get(0)),
                List.of(Posting.debit(wallet, fills[0]), Posting.credit(clearing, fills[0])), null);
        committed(c -> holds.capture(c, holdId, fills[0], retried));
        assertBalance(buyer, wallet, "the buyer after a retried fill");

        long released = released(holdId);
        assertEquals(6 * USD - fills[0] - fills[1] - fills[2], released);
        buyer = buyer.held(-released);
        assertBalance(buyer, wallet, "the buyer after the cancel");
        assertBalance(platform, clearing, "the clearing account after the cancel");
        assertEquals(0, released(holdId), "a second release frees nothing");
        assertEquals(HoldStatus.VOIDED, committed(c -> holds.state(c, holdId)).status());

        ApiException late = assertThrows(ApiException.class, () -> committed(c -> holds.capture(c, holdId, 1,
                clearing(wallet, clearing, 1))));
        assertEquals(ErrorCode.HOLD_NOT_OPEN, late.code(), late.getMessage());
        assertBalance(buyer, wallet, "the buyer after a refused late fill");
    }

    @Test
    void aCaptureBeyondWhatTheHoldStillHoldsIsRefusedAndChangesNothing() throws Exception {
        long wallet = fundedWallet("resting buyer 2", "5.00");
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        UUID holdId = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(holdId, wallet, 2 * USD, "order 2", null)));
        committed(c -> holds.capture(c, holdId, USD, clearing(wallet, clearing, USD)));
        Expected buyer = new Expected(4 * USD, USD);
        long clearingPosted = balances.balance(clearing).postedNanoUsd();

        EntryDraft tooMuch = clearing(wallet, clearing, USD + 1);
        ApiException refused = assertThrows(ApiException.class, () -> committed(c -> holds.capture(c, holdId, USD + 1, tooMuch)));
        assertEquals(ErrorCode.HOLD_REMAINDER_EXCEEDED, refused.code());
        assertTrue(refused.getMessage().contains("holds 1.00 USD, less than the 1.000000001 USD"), refused.getMessage());
        assertEquals(0, entryCount(tooMuch.id()), "no entry for the refused capture");
        assertBalance(buyer, wallet, "the buyer after the refused capture");
        assertEquals(clearingPosted, balances.balance(clearing).postedNanoUsd(), "the clearing account after it");

        ApiException reducedTooMuch = assertThrows(ApiException.class, () -> committed(c -> holds.reduce(c, holdId, USD + 1)));
        assertEquals(ErrorCode.HOLD_REMAINDER_EXCEEDED, reducedTooMuch.code());
        assertBalance(buyer, wallet, "the buyer after the refused reduction");

        committed(c -> holds.capture(c, holdId, USD, clearing(wallet, clearing, USD)));
        buyer = buyer.posted(-USD).held(-USD);
        assertBalance(buyer, wallet, "the buyer once the hold is captured in full");
        assertEquals(0, released(holdId));
    }

    @Test
    void aReductionCommitsAndRollsBackWithTheCallersOwnWrites() throws Exception {
        // The book's cancel: its own record and the hold's reduction are one transaction, all or nothing.
        long wallet = fundedWallet("resting buyer 3", "3.00");
        UUID holdId = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(holdId, wallet, 3 * USD, "order 3", null)));
        Expected buyer = new Expected(3 * USD, 3 * USD);
        String record = "create temporary table if not exists book_records (hold_id uuid, change text)";
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement(record)) {
                ps.execute();
            }
            c.commit();
            for (boolean commit : new boolean[]{false, true}) {
                try (PreparedStatement ps = c.prepareStatement("insert into book_records values (?, 'amend down by 1.25')")) {
                    ps.setObject(1, holdId);
                    ps.executeUpdate();
                }
                holds.reduce(c, holdId, 1_250_000_000L);
                if (commit) {
                    c.commit();
                    buyer = buyer.held(-1_250_000_000L);
                } else {
                    c.rollback();
                }
                assertBalance(buyer, wallet, commit ? "the buyer after the committed amend" : "the buyer after the rolled back one");
                try (PreparedStatement ps = c.prepareStatement("select count(*) from book_records where hold_id = ?")) {
                    ps.setObject(1, holdId);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        assertEquals(commit ? 1 : 0, rs.getLong(1), "the book's record went with the reduction");
                    }
                }
                c.commit();
            }
            try (PreparedStatement ps = c.prepareStatement("drop table book_records")) {
                ps.execute();
            }
            c.commit();
            c.setAutoCommit(true);
        }
        RestingHolds.State state = committed(c -> holds.state(c, holdId));
        assertEquals(1_250_000_000L, state.reducedNanoUsd());
        assertEquals(1_750_000_000L, state.heldNanoUsd());
        assertEquals(1_750_000_000L, released(holdId));
        assertBalance(buyer.held(-1_750_000_000L), wallet, "the buyer after the cancel");
    }

    @Test
    void holdsOnEscrowMarginAndClearingAccountsKeepTheWalletsRule() throws Exception {
        // Forward accounts take holds like wallets, and the database refuses overdrawing them like wallets.
        Org trader = Market.org("resting trader 4", "buyer", "trader");
        UUID org = UUID.fromString(trader.id());
        Market.funded(trader, "4.00");
        long wallet = accounts.walletOf(org);
        long escrow = committed(c -> accounts.open(c, org, AccountKind.ESCROW));
        long margin = committed(c -> accounts.open(c, org, AccountKind.MARGIN));
        long reopened = committed(c -> accounts.open(c, org, AccountKind.ESCROW));
        assertEquals(escrow, reopened, "opened once");
        UUID toEscrow = UUID.randomUUID();
        journal.post(new EntryDraft(toEscrow, EntryCode.ESCROW, "escrow for forwards", "{}", UsageSettlement.digest("e|" + toEscrow),
                List.of(Posting.debit(wallet, 3 * USD), Posting.credit(escrow, 2 * USD), Posting.credit(margin, USD)), null));
        Expected w = new Expected(USD, 0);
        Expected e = new Expected(2 * USD, 0);
        Expected m = new Expected(USD, 0);

        UUID escrowHold = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(escrowHold, escrow, 2 * USD, "escrow order", null)));
        e = e.held(2 * USD);
        ApiException more = assertThrows(ApiException.class, () -> committed(c -> holds.place(c,
                new RestingHolds.Draft(UUID.randomUUID(), escrow, 1, "nothing left", null))));
        assertEquals(ErrorCode.INSUFFICIENT_BALANCE, more.code());
        UUID marginHold = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(marginHold, margin, 400_000_000L, "margin order", null)));
        m = m.held(400_000_000L);
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        long fees = accounts.platformAccount(AccountKind.FORWARD_FEES);
        long clearingBefore = balances.balance(clearing).postedNanoUsd();
        long feesBefore = balances.balance(fees).postedNanoUsd();
        UUID fill = UUID.randomUUID();
        committed(c -> holds.capture(c, escrowHold, 1_500_000_000L, new EntryDraft(fill, EntryCode.CLEARING, "fill", "{}",
                UsageSettlement.digest("f|" + fill), List.of(Posting.debit(escrow, 1_500_000_000L),
                Posting.credit(clearing, 1_490_000_000L), Posting.credit(fees, 10_000_000L)), null)));
        e = e.posted(-1_500_000_000L).held(-1_500_000_000L);
        assertBalance(w, wallet, "the wallet");
        assertBalance(e, escrow, "the escrow");
        assertBalance(m, margin, "the margin");
        assertEquals(clearingBefore + 1_490_000_000L, balances.balance(clearing).postedNanoUsd(), "clearing");
        assertEquals(feesBefore + 10_000_000L, balances.balance(fees).postedNanoUsd(), "fees");

        // The clearing account pays out no more than it got; the escrow gives no more than it has.
        UUID overpaid = UUID.randomUUID();
        ApiException overdrawn = assertThrows(ApiException.class, () -> journal.post(new EntryDraft(overpaid, EntryCode.CLEARING,
                "too much", "{}", UsageSettlement.digest("o|" + overpaid),
                List.of(Posting.debit(clearing, clearingBefore + 1_490_000_001L), Posting.credit(wallet, clearingBefore + 1_490_000_001L)), null)));
        assertEquals(ErrorCode.INSUFFICIENT_BALANCE, overdrawn.code());
        UUID escrowOut = UUID.randomUUID();
        ApiException held = assertThrows(ApiException.class, () -> journal.post(new EntryDraft(escrowOut, EntryCode.ESCROW,
                "the held part", "{}", UsageSettlement.digest("x|" + escrowOut),
                List.of(Posting.debit(escrow, 1), Posting.credit(wallet, 1)), null)));
        assertEquals(ErrorCode.INSUFFICIENT_BALANCE, held.code(), "all the escrow left is held");

        assertEquals(500_000_000L, released(escrowHold));
        assertEquals(400_000_000L, released(marginHold));
        assertBalance(e.held(-500_000_000L), escrow, "the escrow after the release");
        assertBalance(m.held(-400_000_000L), margin, "the margin after the release");
        assertBalance(w, wallet, "the wallet at the end");
    }

    @Test
    void oneTransactionCapturesTheHoldsOfBothSidesOfAFillOrNeither() throws Exception {
        // A fill takes the buyer's payment and the seller's bond together: both holds are locked first, and
        // a rollback undoes both captures.
        long buyerWallet = fundedWallet("resting buyer 8", "2.00");
        Org seller = Market.org("resting seller 8", "buyer", "provider");
        UUID sellerOrg = UUID.fromString(seller.id());
        Market.funded(seller, "1.00");
        long sellerWallet = accounts.walletOf(sellerOrg);
        long bond = committed(c -> accounts.open(c, sellerOrg, AccountKind.BOND));
        UUID posting = UUID.randomUUID();
        journal.post(new EntryDraft(posting, EntryCode.BOND, "bond posted", "{}", UsageSettlement.digest("b|" + posting),
                List.of(Posting.debit(sellerWallet, USD), Posting.credit(bond, USD)), null));
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        long insurance = accounts.platformAccount(AccountKind.INSURANCE_FUND);
        long clearingPosted = balances.balance(clearing).postedNanoUsd();
        long insurancePosted = balances.balance(insurance).postedNanoUsd();
        UUID payment = UUID.randomUUID();
        UUID bondHold = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(payment, buyerWallet, 2 * USD, "bid", null)));
        committed(c -> holds.place(c, new RestingHolds.Draft(bondHold, bond, USD, "offer bond", null)));
        for (boolean commit : new boolean[]{false, true}) {
            try (Connection c = dataSource.getConnection()) {
                c.setAutoCommit(false);
                holds.lock(c, List.of(payment, bondHold));
                holds.capture(c, payment, 800_000_000L, clearing(buyerWallet, clearing, 800_000_000L));
                UUID id = UUID.randomUUID();
                holds.capture(c, bondHold, 100_000_000L, new EntryDraft(id, EntryCode.INSURANCE_FUND, "bond share", "{}",
                        UsageSettlement.digest("i|" + id), List.of(Posting.debit(bond, 100_000_000L),
                        Posting.credit(insurance, 100_000_000L)), null));
                if (commit) {
                    c.commit();
                } else {
                    c.rollback();
                }
                c.setAutoCommit(true);
            }
        }
        assertBalance(new Expected(1_200_000_000L, 1_200_000_000L), buyerWallet, "the buyer");
        assertBalance(new Expected(900_000_000L, 900_000_000L), bond, "the seller's bond");
        assertBalance(new Expected(0, 0), sellerWallet, "the seller's wallet");
        assertEquals(clearingPosted + 800_000_000L, balances.balance(clearing).postedNanoUsd(), "clearing");
        assertEquals(insurancePosted + 100_000_000L, balances.balance(insurance).postedNanoUsd(), "insurance fund");
        assertEquals(1_200_000_000L, released(payment));
        assertEquals(900_000_000L, released(bondHold));
    }

    @Test
    void aRestingHoldsExpiryOnlyMovesLaterAndExpiringReleasesWhatItStillHolds() throws Exception {
        long wallet = fundedWallet("resting buyer 5", "2.00");
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        // In microseconds, as the database keeps them.
        Instant inADay = Instant.now().plusSeconds(86_400).truncatedTo(java.time.temporal.ChronoUnit.MICROS);
        UUID holdId = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(holdId, wallet, USD, "order 5", inADay)));
        ApiException earlier = assertThrows(ApiException.class,
                () -> committed(c -> holds.extend(c, holdId, inADay.minusSeconds(1))));
        assertEquals(ErrorCode.INVALID_REQUEST, earlier.code());
        Instant inTwoDays = inADay.plusSeconds(86_400);
        assertEquals(inTwoDays, committed(c -> holds.extend(c, holdId, inTwoDays)).expiresAt());
        assertNull(committed(c -> holds.extend(c, holdId, null)).expiresAt(), "no expiry any more");
        assertThrows(ApiException.class, () -> committed(c -> holds.extend(c, holdId, inTwoDays)),
                "a hold without an expiry does not get one back");

        // A hold whose expiry passed: no capture, and the expiry releases what it still holds.
        UUID due = UUID.randomUUID();
        Instant soon = Instant.now().plusSeconds(2);
        committed(c -> holds.place(c, new RestingHolds.Draft(due, wallet, 600_000_000L, "order 6", soon)));
        committed(c -> holds.capture(c, due, 100_000_000L, clearing(wallet, clearing, 100_000_000L)));
        Expected buyer = new Expected(1_900_000_000L, USD + 500_000_000L);
        assertBalance(buyer, wallet, "the buyer with two holds");
        Thread.sleep(Math.max(0, java.time.Duration.between(Instant.now(), soon).toMillis()) + 100);
        ApiException expired = assertThrows(ApiException.class, () -> committed(c -> holds.capture(c, due, 1,
                clearing(wallet, clearing, 1))));
        assertEquals(ErrorCode.HOLD_NOT_OPEN, expired.code(), expired.getMessage());
        // The application's own expiry job may have come first; either way the hold is expired now.
        holds.expire(1_000);
        assertEquals(HoldStatus.EXPIRED, committed(c -> holds.state(c, due)).status());
        assertEquals(HoldStatus.RESTING, committed(c -> holds.state(c, holdId)).status(), "the one without expiry stays");
        assertBalance(buyer.held(-500_000_000L), wallet, "the buyer after the expiry");
        assertEquals(USD, released(holdId));
        assertBalance(buyer.held(-500_000_000L - USD), wallet, "the buyer at the end");
    }

    @Test
    void capturesAndReductionsRacingOnOneHoldNeverOverdrawItNorLoseOrCreateMoney() throws Exception {
        // A fill and a cancel arriving together, many times: each hold ends with exactly its amount split between
        // what was captured and what was released, and every account agrees.
        long wallet = fundedWallet("resting buyer 6", "100.00");
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        Expected buyer = new Expected(100 * USD, 0);
        long clearingPosted = balances.balance(clearing).postedNanoUsd();
        int iterations = 40;
        long amount = 1_000_000L;
        Random random = new Random(24);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int i = 0; i < iterations; i++) {
                UUID holdId = UUID.randomUUID();
                committed(c -> holds.place(c, new RestingHolds.Draft(holdId, wallet, amount, "race " + holdId, null)));
                long[] fillSizes = {random.nextLong(1, amount), random.nextLong(1, amount), random.nextLong(1, amount)};
                long reduceBy = random.nextLong(1, amount);
                boolean thenRelease = random.nextBoolean();
                CyclicBarrier start = new CyclicBarrier(2);
                Future<Long> filled = pool.submit(() -> {
                    start.await();
                    long captured = 0;
                    for (long size : fillSizes) {
                        try {
                            committed(c -> holds.capture(c, holdId, size, clearing(wallet, clearing, size)));
                            captured += size;
                        } catch (ApiException refused) {
                            assertTrue(refused.code() == ErrorCode.HOLD_REMAINDER_EXCEEDED
                                    || refused.code() == ErrorCode.HOLD_NOT_OPEN, refused.getMessage());
                        }
                    }
                    return captured;
                });
                Future<Long> freed = pool.submit(() -> {
                    start.await();
                    long released = 0;
                    try {
                        committed(c -> holds.reduce(c, holdId, reduceBy));
                        released += reduceBy;
                    } catch (ApiException refused) {
                        assertEquals(ErrorCode.HOLD_REMAINDER_EXCEEDED, refused.code(), refused.getMessage());
                    }
                    if (thenRelease) {
                        released += released(holdId);
                    }
                    return released;
                });
                long captured = filled.get(30, TimeUnit.SECONDS);
                long released = freed.get(30, TimeUnit.SECONDS);
                released += released(holdId);
                assertEquals(amount, captured + released, "hold " + i + ": captured " + captured + " + released " + released);
                RestingHolds.State state = committed(c -> holds.state(c, holdId));
                assertEquals(captured, state.capturedNanoUsd(), "hold " + i + " captured");
                buyer = buyer.posted(-captured);
                clearingPosted += captured;
                assertBalance(buyer, wallet, "the buyer after race " + i);
                assertEquals(clearingPosted, balances.balance(clearing).postedNanoUsd(), "clearing after race " + i);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theDatabaseRefusesCapturingOrReducingAHoldBeyondItsAmountEvenByHand() throws Exception {
        long wallet = fundedWallet("resting buyer 7", "1.00");
        long clearing = accounts.platformAccount(AccountKind.CLEARING);
        UUID holdId = UUID.randomUUID();
        UUID spotHold = UUID.randomUUID();
        committed(c -> holds.place(c, new RestingHolds.Draft(holdId, wallet, 1000, "order 7", null)));
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            try {
                execute(c, "insert into holds (id, account_id, amount_nano_usd, status, reference, expires_at) values ('"
                        + spotHold + "', " + wallet + ", 1000, 'pending', 'spot', now() + interval '1 minute')");
                UUID entry = UUID.randomUUID();
                execute(c, "insert into journal_entries (id, code, description, request_sha256, posting_count) values ('"
                        + entry + "', 'clearing', 'by hand', '\\x00', 2)");
                execute(c, "insert into postings (entry_id, seq, account_id, amount_nano_usd) values ('" + entry + "', 0, "
                        + wallet + ", 1001), ('" + entry + "', 1, " + clearing + ", -1001)");
                String part = "insert into hold_capture_parts (hold_id, entry_id, captured_nano_usd) values ('";
                assertEquals("23514", sqlStateOf(c, part + holdId + "', '" + entry + "', 1001)"), "more than the hold");
                assertEquals("23514", sqlStateOf(c, part + holdId + "', '" + UUID.randomUUID() + "', 10)"),
                        "into an entry that does not debit the hold's account");
                assertEquals("23514", sqlStateOf(c, part + spotHold + "', '" + entry + "', 1001)"), "a spot hold");
                assertEquals("23514", sqlStateOf(c, "update holds set reduced_nano_usd = 1001 where id = '" + holdId + "'"),
                        "reduced beyond its amount");
                assertEquals("42501", sqlStateOf(c, "update holds set captured_nano_usd = 10 where id = '" + holdId + "'"),
                        "captured without a part");
                assertEquals("42501", sqlStateOf(c, "update holds set reduced_nano_usd = 10 where id = '" + spotHold + "'"),
                        "a spot hold is not reduced");
                assertEquals("42501", sqlStateOf(c, "update holds set status = 'settling' where id = '" + holdId + "'"));
                assertNull(sqlStateOf(c, "update holds set reduced_nano_usd = 600 where id = '" + holdId + "'"));
                assertEquals("42501", sqlStateOf(c, "update holds set reduced_nano_usd = 500 where id = '" + holdId + "'"),
                        "a reduction is not undone");
                assertEquals("23514", sqlStateOf(c, "insert into holds (id, account_id, amount_nano_usd, status, reference, "
                        + "reduced_nano_usd) values ('" + UUID.randomUUID() + "', " + wallet + ", 10, 'resting', 'r', 5)"));
                assertEquals("23514", sqlStateOf(c, "insert into holds (id, account_id, amount_nano_usd, status, reference) "
                        + "values ('" + UUID.randomUUID() + "', " + wallet + ", 10, 'pending', 'a spot hold without expiry')"));
                assertEquals("23514", sqlStateOf(c, "insert into ledger_accounts (code, org_id, kind, type, normal_side, "
                        + "no_overdraft) values ('escrow without the rule', null, 'escrow', 'liability', 'credit', false)"));
                assertEquals("23514", sqlStateOf(c, "insert into ledger_accounts (code, kind, type, normal_side, "
                        + "no_overdraft) values ('a clearing that may go negative', 'clearing', 'liability', 'credit', false)"));
            } finally {
                c.rollback();
                c.setAutoCommit(true);
            }
        }
        assertEquals(1000, released(holdId));
        assertBalance(new Expected(USD, 0), wallet, "the buyer at the end");
    }

    private static void execute(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.executeUpdate();
        }
    }
}
