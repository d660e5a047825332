package dev.tokenmarket.ledger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.TimeOrderedIds;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Generation;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What finance does by hand: statements, reversals, credit limits and the reconciliation report. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class LedgerFinanceTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LedgerAccounts accounts;

    @AfterEach
    void ledgerStillBalances() {
        Market.assertLedgerBalanced();
    }

    static long walletOf(Org org) {
        List<Map<String, Object>> accounts = as(ADMIN_KEY).queryParam("org_id", org.id()).get("/api/ledger/accounts")
                .then().statusCode(200).extract().jsonPath().getList("accounts");
        return accounts.stream().filter(a -> "buyer_wallet".equals(a.get("kind")))
                .mapToLong(a -> ((Number) a.get("id")).longValue()).findFirst().orElseThrow();
    }

    static String depositEntry(Org buyer, String amount) {
        return Market.deposit(buyer, amount, UUID.randomUUID().toString()).then().statusCode(201).extract().path("entry_id");
    }

    @Test
    void statementShowsOpeningEntriesAndClosingInJsonAndCsv() throws Exception {
        // Proves a statement's opening balance, lines and closing balance follow the postings of the period.
        Org buyer = Market.org("statement buyer", "buyer");
        long wallet = walletOf(buyer);
        depositEntry(buyer, "10.00");
        Thread.sleep(20);
        Instant between = Instant.now();
        Thread.sleep(20);
        String second = depositEntry(buyer, "2.50");

        JsonPath whole = as(ADMIN_KEY).get("/api/ledger/accounts/" + wallet + "/statement")
                .then().statusCode(200).extract().jsonPath();
        assertEquals("0.00", whole.getString("opening_balance"));
        assertEquals(2, whole.getList("entries").size());
        assertEquals("12.50", whole.getString("closing_balance"));
        assertEquals("12.50", whole.getString("total_credits"));
        assertEquals("10.00", whole.getString("entries[0].balance"));

        JsonPath later = as(ADMIN_KEY).queryParam("from", between.toString())
                .get("/api/ledger/accounts/" + wallet + "/statement").then().statusCode(200).extract().jsonPath();
        assertEquals("10.00", later.getString("opening_balance"), "the first deposit is before the period");
        assertEquals(1, later.getList("entries").size());
        assertEquals(second, later.getString("entries[0].entry_id"));
        assertEquals("2.50", later.getString("entries[0].credit"));
        assertEquals("12.50", later.getString("closing_balance"));

        String csv = as(ADMIN_KEY).header("Accept", "text/csv").get("/api/ledger/accounts/" + wallet + "/statement")
                .then().statusCode(200).contentType(containsString("text/csv")).extract().asString();
        String[] rows = csv.split("\r\n");
        assertEquals(StatementCsv.HEADER, rows[0]);
        assertEquals(5, rows.length, "header, opening, two entries, closing: " + csv);
        assertTrue(rows[1].contains("opening_balance") && rows[1].endsWith(",0.00"), rows[1]);
        assertTrue(rows[4].contains("closing_balance") && rows[4].endsWith(",12.50"), rows[4]);

        // The buyer reads its own statement; another buyer may not.
        as(buyer.key()).get("/api/ledger/accounts/" + wallet + "/statement").then().statusCode(200);
        Org other = Market.org("other buyer", "buyer");
        as(other.key()).get("/api/ledger/accounts/" + wallet + "/statement").then().statusCode(403);
        as(ADMIN_KEY).queryParam("from", "yesterday").get("/api/ledger/accounts/" + wallet + "/statement")
                .then().statusCode(400).body("code", equalTo("invalid_request")).body("detail", containsString("from"));
        as(ADMIN_KEY).get("/api/ledger/accounts/999999999/statement").then().statusCode(404);
    }

    @Test
    void aStatementOfMoreEntriesThanFitInMemoryAtOnceIsStreamedWhole() throws Exception {
        // Proves there is no length limit: 120,000 deposits (the platform revenue account gets a line per
        // request) come back whole, as CSV and as JSON, adding up to the closing balance.
        Org buyer = Market.org("long statement buyer", "buyer");
        long wallet = accounts.walletOf(UUID.fromString(buyer.id()));
        int count = 120_000;
        long amount = 1_000;
        List<EntryDraft> drafts = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            drafts.add(new EntryDraft(TimeOrderedIds.next(), EntryCode.DEPOSIT, "bulk deposit " + i, "{}", new byte[32],
                    List.of(Posting.debit(accounts.platformCash(), amount), Posting.credit(wallet, amount)), null));
        }
        try (Connection c = dataSource.getConnection()) {
            c.setAutoCommit(false);
            Map<Long, JournalWriter.AccountDelta> deltas = new HashMap<>();
            assertEquals(count, JournalWriter.copyEntries(c, drafts, false, deltas).size());
            JournalWriter.applyDeltas(c, deltas);
            c.commit();
            // Written again: as fresh entries the ids already posted are refused; skipping them, nothing is written.
            List<EntryDraft> again = drafts.subList(count - 2, count);
            SQLException refused = assertThrows(SQLException.class,
                    () -> JournalWriter.copyEntries(c, again, false, new HashMap<>()));
            assertTrue(JournalWriter.isAlreadyPosted(refused), refused.getMessage());
            c.rollback();
            assertEquals(0, JournalWriter.copyEntries(c, again, true, new HashMap<>()).size());
            c.rollback();
        }
        String closing = Money.formatUsd(count * amount);

        String csv = as(ADMIN_KEY).header("Accept", "text/csv").get("/api/ledger/accounts/" + wallet + "/statement")
                .then().statusCode(200).extract().asString();
        String[] rows = csv.split("\r\n");
        assertEquals(count + 3, rows.length, "header, opening, every entry, closing");
        long credits = 0;
        for (int i = 2; i < rows.length - 1; i++) {
            String[] fields = rows[i].split(",");
            credits += Money.parseUsd(fields[5], "credit");
        }
        assertEquals(count * amount, credits);
        assertTrue(rows[rows.length - 2].endsWith("," + closing), rows[rows.length - 2]);
        assertTrue(rows[rows.length - 1].contains("closing_balance") && rows[rows.length - 1].endsWith("," + closing));

        // Read with Jackson: RestAssured's JSON path takes several seconds over 120,000 entries.
        JsonNode json = new ObjectMapper().readTree(as(ADMIN_KEY).get("/api/ledger/accounts/" + wallet + "/statement")
                .then().statusCode(200).extract().asInputStream());
        JsonNode entries = json.get("entries");
        assertEquals(count, entries.size());
        assertEquals(closing, json.get("closing_balance").asText());
        assertEquals(closing, entries.get(count - 1).get("balance").asText());
        // One transaction, so one created_at: the entries come in id order (PostgreSQL compares uuids bytewise).
        assertEquals(drafts.stream().map(d -> d.id().toString()).max(java.util.Comparator.naturalOrder()).orElseThrow(),
                entries.get(count - 1).get("entry_id").asText());
    }

    @Test
    void reversalRestoresBalancesOnceAndNeverEditsTheOriginal() {
        // Proves corrections are mirror entries: once per entry, not of a reversal, never below a limit.
        Org buyer = Market.org("reversal buyer", "buyer");
        String first = depositEntry(buyer, "3.00");
        String second = depositEntry(buyer, "1.00");

        as(ADMIN_KEY).body(Map.of()).post("/api/ledger/entries/" + first + "/reversal")
                .then().statusCode(400).body("detail", containsString("reason"));
        String reversal = as(ADMIN_KEY).body(Map.of("reason", "wire returned by the bank"))
                .post("/api/ledger/entries/" + first + "/reversal").then().statusCode(201)
                .body("code", equalTo("reversal")).body("reverses_entry_id", equalTo(first))
                .body("postings", hasSize(2)).extract().path("id");
        assertEquals("1.00", Market.balance(buyer).get("available"));
        as(ADMIN_KEY).get("/api/ledger/entries/" + first).then().statusCode(200)
                .body("code", equalTo("deposit")).body("reversed_by_entry_id", equalTo(reversal));

        as(ADMIN_KEY).body(Map.of("reason", "again")).post("/api/ledger/entries/" + first + "/reversal")
                .then().statusCode(409).body("code", equalTo("already_reversed"));
        as(ADMIN_KEY).body(Map.of("reason", "undo")).post("/api/ledger/entries/" + reversal + "/reversal")
                .then().statusCode(409).body("code", equalTo("not_reversible"));

        // Spend what the second deposit brought: reversing it would overdraw the wallet, so nothing changes.
        Org provider = Market.org("reversal provider", "provider");
        String spendable = Market.endpoint(provider, "0.00", "10000.00");
        Generation spent = Market.billed(as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 60,
                "temperature", 0, "provider", Market.only(spendable))).post("/v1/completions"), "0.00", "10000.00");
        Market.assertSettled(buyer, "1.00", provider, List.of(spent));
        assertTrue(usd(Market.balance(buyer).get("available")).compareTo(usd("1.00")) < 0);
        String before = Market.balance(buyer).get("available");
        as(ADMIN_KEY).body(Map.of("reason", "chargeback")).post("/api/ledger/entries/" + second + "/reversal")
                .then().statusCode(402).body("code", equalTo("insufficient_balance"));
        assertEquals(before, Market.balance(buyer).get("available"));
        as(ADMIN_KEY).get("/api/ledger/entries/" + second).then().body("reversed_by_entry_id", equalTo(null));
        as(buyer.key()).body(Map.of("reason", "x")).post("/api/ledger/entries/" + second + "/reversal").then().statusCode(403);
    }

    @Test
    void creditLimitLetsAWalletGoNegativeOnlyDownToTheLimit() {
        // Proves an explicit credit limit is the only way below zero, and cannot be pulled from under a wallet using it.
        Org buyer = Market.org("credit buyer", "buyer");
        Org provider = Market.org("credit provider", "provider");
        String endpoint = Market.endpoint(provider, "0.00", "10000.00");
        Map<String, Object> request = Map.of("model", Market.MODEL, "prompt", "", "max_tokens", 50, "temperature", 0,
                "provider", Market.only(endpoint));
        as(buyer.key()).body(request).post("/v1/completions").then().statusCode(402);

        as(ADMIN_KEY).body(Map.of("credit_limit", "-1")).put("/api/ledger/credit-limits/" + buyer.id())
                .then().statusCode(400).body("detail", containsString("credit_limit"));
        as(ADMIN_KEY).body(Map.of("credit_limit", "20.00")).put("/api/ledger/credit-limits/" + buyer.id())
                .then().statusCode(200).body("available", equalTo("0.00")).body("credit_limit", equalTo("20.00"));
        Generation onCredit = Market.billed(as(buyer.key()).body(request).post("/v1/completions"), "0.00", "10000.00");
        Market.assertSettled(buyer, "0.00", provider, List.of(onCredit));
        Map<String, String> balance = Market.balance(buyer);
        assertTrue(usd(balance.get("posted")).signum() < 0, "the wallet is using credit: " + balance);

        as(ADMIN_KEY).body(Map.of("credit_limit", "0")).put("/api/ledger/credit-limits/" + buyer.id())
                .then().statusCode(409).body("code", equalTo("credit_limit_in_use"));
        assertEquals("20.00", Market.balance(buyer).get("credit_limit"));
        Market.funded(buyer, "10.00");
        as(ADMIN_KEY).body(Map.of("credit_limit", "0")).put("/api/ledger/credit-limits/" + buyer.id())
                .then().statusCode(200);
        as(buyer.key()).body(Map.of("credit_limit", "100.00")).put("/api/ledger/credit-limits/" + buyer.id())
                .then().statusCode(403);
    }

    @Test
    void reconciliationMatchesMeteredUsageToPostedEntries() {
        // Proves the report counts what the gateway metered against what the ledger posted, per buyer and provider.
        Org buyer = Market.org("recon buyer", "buyer");
        Org provider = Market.org("recon provider", "provider");
        String endpoint = Market.endpoint(provider, "100.00", "200.00");
        Market.funded(buyer, "5.00");
        Instant from = Instant.now().minusSeconds(1);
        List<String> generations = new ArrayList<>();
        List<Generation> served = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Response response = as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "Once", "max_tokens", 10 + i,
                    "provider", Market.only(endpoint))).post("/v1/completions");
            served.add(Market.billed(response, "100.00", "200.00"));
            generations.add(response.header("X-Generation-Id").substring("gen-".length()));
        }
        Market.assertSettled(buyer, "5.00", provider, served);
        // The platform revenue account (whose postings the account index leaves out) still has a statement
        // line for each fee: the usage entry's id is the generation's.
        JsonPath revenue = as(ADMIN_KEY).queryParam("from", from.toString())
                .get("/api/ledger/accounts/" + accounts.platformRevenue() + "/statement").then().statusCode(200)
                .extract().jsonPath();
        List<Map<String, Object>> feeLines = revenue.<Map<String, Object>>getList("entries").stream()
                .filter(line -> generations.contains(line.get("entry_id"))).toList();
        assertEquals(3, feeLines.size(), "a line per usage entry: " + revenue.prettify());
        feeLines.forEach(line -> assertTrue(usd((String) line.get("credit")).signum() > 0, "the fee is credited: " + line));
        JsonPath report = as(ADMIN_KEY).queryParam("from", from.toString()).queryParam("to", Instant.now().plusSeconds(1).toString())
                .get("/api/ledger/reconciliation").then().statusCode(200).extract().jsonPath();
        Map<String, Object> mine = report.getList("by_buyer", Map.class).stream()
                .filter(b -> buyer.id().equals(b.get("org_id"))).findFirst().orElseThrow();
        assertEquals(3, mine.get("events_metered"));
        assertEquals(3, mine.get("entries_posted"));
        assertEquals(mine.get("cost_metered"), mine.get("cost_posted"));
        assertEquals(0, mine.get("awaiting_settlement"));
        assertEquals(0, mine.get("amount_mismatches"));
        String spent = usd("5.00").subtract(usd(Market.balance(buyer).get("posted"))).stripTrailingZeros().toPlainString();
        assertEquals(0, usd((String) mine.get("cost_posted")).compareTo(usd(spent)), "the report agrees with the wallet");
        Map<String, Object> theirs = report.getList("by_provider", Map.class).stream()
                .filter(p -> provider.id().equals(p.get("org_id"))).findFirst().orElseThrow();
        assertEquals(3, theirs.get("entries_posted"));
        assertEquals(theirs.get("provider_share_metered"), theirs.get("provider_share_posted"));
        assertEquals(true, report.getBoolean("consumer_lag.available"));
        as(ADMIN_KEY).queryParam("from", "2026-12-01").queryParam("to", "2026-11-01").get("/api/ledger/reconciliation")
                .then().statusCode(400).body("detail", containsString("after"));
        as(buyer.key()).get("/api/ledger/reconciliation").then().statusCode(403);
    }
}
