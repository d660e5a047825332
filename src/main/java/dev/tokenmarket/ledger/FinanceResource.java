package dev.tokenmarket.ledger;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.IsoInstants;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.StreamingOutput;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Finance: deposits, payouts, accounts and statements, reversals, credit limits, the trial balance, the
 * reconciliation report and the ledger's self-check.
 */
@Path("/api/ledger")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class FinanceResource {

    private static final int IDEMPOTENCY_KEY_LENGTH_MAX = 255;
    private static final int REFERENCE_LENGTH_MAX = 500;
    /** Entries without postings the verification lists at most; there should be none. */
    private static final int VERIFICATION_LIST_MAX = 100;

    /** {@code amount} is USD as a decimal string. */
    public record Transfer(UUID orgId, String amount, String reference) {
    }

    @Inject
    JournalEntries journal;

    @Inject
    Balances balances;

    @Inject
    LedgerVerification verification;

    @Inject
    LedgerAccounts accounts;

    @Inject
    CurrentCaller currentCaller;

    @Inject
    FinanceReports reports;

    @Inject
    ObjectMapper objectMapper;

    /** Money in: platform cash debited, the buyer's wallet credited. */
    @POST
    @Path("/deposits")
    public Response deposit(@HeaderParam("Idempotency-Key") String idempotencyKey, Transfer request) {
        Caller caller = currentCaller.get();
        caller.require(Role.FINANCE);
        TransferDraft t = draft("deposit", caller, idempotencyKey, request);
        long wallet = accounts.walletOf(t.orgId);
        return answer(journal.post(new EntryDraft(t.entryId, EntryCode.DEPOSIT, "deposit: " + t.reference, t.metadata, t.digest,
                List.of(Posting.debit(accounts.platformCash(), t.amountNanoUsd), Posting.credit(wallet, t.amountNanoUsd)),
                null)), t, wallet);
    }

    /** Money out: the provider's payable debited (never below zero), platform cash credited. */
    @POST
    @Path("/payouts")
    public Response payout(@HeaderParam("Idempotency-Key") String idempotencyKey, Transfer request) {
        Caller caller = currentCaller.get();
        caller.require(Role.FINANCE);
        TransferDraft t = draft("payout", caller, idempotencyKey, request);
        long payable = accounts.payableOf(t.orgId);
        return answer(journal.post(new EntryDraft(t.entryId, EntryCode.PAYOUT, "payout: " + t.reference, t.metadata, t.digest,
                List.of(Posting.debit(payable, t.amountNanoUsd), Posting.credit(accounts.platformCash(), t.amountNanoUsd)),
                null)), t, payable);
    }

    private record TransferDraft(UUID entryId, UUID orgId, long amountNanoUsd, String reference, String metadata, byte[] digest) {
    }

    private static TransferDraft draft(String kind, Caller caller, String idempotencyKey, Transfer request) {
        if (idempotencyKey == null || idempotencyKey.isBlank() || idempotencyKey.length() > IDEMPOTENCY_KEY_LENGTH_MAX) {
            throw ApiException.invalid("Idempotency-Key", "The Idempotency-Key header is required (1 to "
                    + IDEMPOTENCY_KEY_LENGTH_MAX + " characters): a retry with the same key is applied once.");
        }
        if (request == null) {
            throw ApiException.invalid("body", "A JSON body {org_id, amount, reference} is required.");
        }
        if (request.orgId() == null) {
            throw ApiException.invalid("org_id", "Field 'org_id' is required.");
        }
        long amount = Money.parseUsd(request.amount(), "amount");
        if (amount == 0) {
            throw ApiException.invalid("amount", "Field 'amount' must be greater than zero.");
        }
        String reference = request.reference() == null ? "" : request.reference().strip();
        if (reference.isEmpty() || reference.length() > REFERENCE_LENGTH_MAX) {
            throw ApiException.invalid("reference", "Field 'reference' is required (up to " + REFERENCE_LENGTH_MAX
                    + " characters), e.g. the bank transfer id.");
        }
        // The key is scoped to the caller's organization and the kind of transfer, as Stripe scopes its keys.
        UUID entryId = UUID.nameUUIDFromBytes((kind + ":" + caller.orgId() + ":" + idempotencyKey).getBytes(StandardCharsets.UTF_8));
        String canonical = kind + "|" + request.orgId() + "|" + amount + "|" + reference;
        String metadata = "{\"org_id\":\"" + request.orgId() + "\",\"idempotency_key_sha256\":\""
                + java.util.HexFormat.of().formatHex(UsageSettlement.digest(idempotencyKey)) + "\"}";
        return new TransferDraft(entryId, request.orgId(), amount, reference, metadata, UsageSettlement.digest(canonical));
    }

    private Response answer(JournalEntries.PostedEntry posted, TransferDraft t, long accountId) {
        Balances.Balance balance = balances.balance(accountId);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("entry_id", posted.entryId());
        body.put("org_id", t.orgId);
        body.put("amount", Money.formatUsd(t.amountNanoUsd));
        body.put("reference", t.reference);
        body.put("replayed", posted.replayed());
        body.put("created_at", posted.createdAt().toString());
        body.put("balance", BalanceResource.view(balance));
        return Response.status(posted.replayed() ? 200 : 201).entity(body).header("Idempotent-Replayed", posted.replayed()).build();
    }

    @GET
    @Path("/trial-balance")
    public Map<String, Object> trialBalance() {
        currentCaller.get().require(Role.FINANCE);
        long debits = 0;
        long credits = 0;
        List<Map<String, Object>> rows = new ArrayList<>();
        for (FinanceReports.Account a : reports.accounts(null)) {
            debits = Math.addExact(debits, a.debitsNanoUsd());
            credits = Math.addExact(credits, a.creditsNanoUsd());
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("account_id", a.id());
            row.put("code", a.code());
            row.put("kind", a.kind().wire());
            row.put("type", a.type());
            row.put("normal_side", a.normalSide());
            row.put("debits", Money.formatUsd(a.debitsNanoUsd()));
            row.put("credits", Money.formatUsd(a.creditsNanoUsd()));
            row.put("balance", Money.formatUsd(a.balanceNanoUsd()));
            row.put("held", Money.formatUsd(a.heldNanoUsd()));
            rows.add(row);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("accounts", rows);
        body.put("total_debits", Money.formatUsd(debits));
        body.put("total_credits", Money.formatUsd(credits));
        body.put("difference", Money.formatUsd(debits - credits));
        body.put("balanced", debits == credits);
        return body;
    }

    /**
     * Recomputes every balance from the postings and open holds and lists any difference, and lists entries
     * without postings (the first {@value #VERIFICATION_LIST_MAX}); there must be none of either.
     */
    @GET
    @Path("/verification")
    public Map<String, Object> verification() {
        currentCaller.get().require(Role.FINANCE);
        List<Map<String, Object>> discrepancies = new ArrayList<>();
        for (LedgerVerification.Discrepancy d : verification.verify()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("account_id", d.accountId());
            row.put("code", d.code());
            row.put("stored_debits", Money.formatUsd(d.storedDebitsNanoUsd()));
            row.put("posted_debits", Money.formatUsd(d.postedDebitsNanoUsd()));
            row.put("stored_credits", Money.formatUsd(d.storedCreditsNanoUsd()));
            row.put("posted_credits", Money.formatUsd(d.postedCreditsNanoUsd()));
            row.put("stored_held", Money.formatUsd(d.storedHeldNanoUsd()));
            row.put("open_holds", Money.formatUsd(d.openHoldsNanoUsd()));
            discrepancies.add(row);
        }
        List<String> withoutPostings = verification.entriesWithoutPostings(VERIFICATION_LIST_MAX).stream().map(UUID::toString).toList();
        return Map.of("consistent", discrepancies.isEmpty() && withoutPostings.isEmpty(), "discrepancies", discrepancies,
                "entries_without_postings", withoutPostings);
    }

    /** Every ledger account with its stored balance, or those of one organization. */
    @GET
    @Path("/accounts")
    public Map<String, Object> accounts(@QueryParam("org_id") String orgId) {
        currentCaller.get().require(Role.FINANCE);
        UUID org = orgId == null || orgId.isBlank() ? null : parseUuid(orgId, "org_id");
        return Map.of("accounts", reports.accounts(org).stream().map(FinanceReports.Account::view).toList());
    }

    /**
     * An account's statement for [from, to): opening balance, entries, closing balance, as JSON or, with
     * {@code Accept: text/csv}, as CSV. Finance reads any account; an organization reads its own.
     */
    @GET
    @Path("/accounts/{id}/statement")
    @Produces({MediaType.APPLICATION_JSON, "text/csv"})
    public Response statement(@PathParam("id") String id, @QueryParam("from") String from, @QueryParam("to") String to,
                              @HeaderParam("Accept") String accept) {
        Caller caller = currentCaller.get();
        Period period = Period.parse(from, to);
        FinanceReports.Account account = reports.account(id);
        if (!caller.has(Role.FINANCE) && !caller.has(Role.ADMIN) && !caller.orgId().equals(account.orgId())) {
            throw new ApiException(ErrorCode.FORBIDDEN, "Account " + id + " belongs to another organization.");
        }
        // Streamed: read from PostgreSQL in chunks and written as read, whatever the number of lines.
        if (accept != null && accept.contains("text/csv")) {
            StreamingOutput csv = out -> reports.statement(account, period.from(), period.to(),
                    new StatementCsv(out, account, period.from(), period.to()));
            return Response.ok(csv, "text/csv; charset=utf-8")
                    .header("Content-Disposition", "attachment; filename=\"statement-" + account.id() + ".csv\"")
                    .build();
        }
        StreamingOutput json = out -> reports.statement(account, period.from(), period.to(),
                new StatementJson(objectMapper, out, account, period.from(), period.to()));
        return Response.ok(json, MediaType.APPLICATION_JSON).build();
    }

    /** Metered usage against posted entries for [from, to), dead letters, reversals, holds, outbox and consumer lag. */
    @GET
    @Path("/reconciliation")
    public Map<String, Object> reconciliation(@QueryParam("from") String from, @QueryParam("to") String to) {
        currentCaller.get().require(Role.FINANCE);
        Period period = Period.parse(from, to);
        return reports.reconciliation(period.from(), period.to());
    }

    /** One journal entry with its postings. */
    @GET
    @Path("/entries/{id}")
    public Map<String, Object> entry(@PathParam("id") String id) {
        currentCaller.get().require(Role.FINANCE);
        return entryView(journal.entry(parseUuid(id, "id")));
    }

    /** {@code reason} says why the entry is corrected; it is kept on the reversing entry. */
    public record ReversalRequest(String reason) {
    }

    /** Corrects an entry by posting its mirror image; a second reversal of the same entry is a 409. */
    @POST
    @Path("/entries/{id}/reversal")
    public Response reverse(@PathParam("id") String id, ReversalRequest request) {
        currentCaller.get().require(Role.FINANCE);
        UUID entryId = parseUuid(id, "id");
        String reason = request == null || request.reason() == null ? "" : request.reason().strip();
        if (reason.isEmpty() || reason.length() > REFERENCE_LENGTH_MAX) {
            throw ApiException.invalid("reason", "Field 'reason' is required (up to " + REFERENCE_LENGTH_MAX
                    + " characters): say why the entry is reversed.");
        }
        return Response.status(201).entity(entryView(journal.reverse(entryId, reason))).build();
    }

    /** {@code credit_limit} is USD as a decimal string; "0" removes the credit. */
    public record CreditLimitRequest(String creditLimit) {
    }

    /** Lets a buyer's wallet go below zero down to minus the limit. */
    @PUT
    @Path("/credit-limits/{orgId}")
    public Map<String, Object> setCreditLimit(@PathParam("orgId") String orgId, CreditLimitRequest request) {
        currentCaller.get().require(Role.FINANCE);
        if (request == null) {
            throw ApiException.invalid("body", "A JSON body {credit_limit} is required, e.g. {\"credit_limit\":\"50.00\"}.");
        }
        long limit = Money.parseUsd(request.creditLimit(), "credit_limit");
        UUID org = parseUuid(orgId, "org_id");
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("org_id", org);
        body.putAll(BalanceResource.view(balances.setCreditLimit(accounts.walletOf(org), limit)));
        body.put("credit_limit", Money.formatUsd(limit));
        return body;
    }

    private Map<String, Object> entryView(JournalEntries.StoredEntry entry) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", entry.id());
        body.put("code", entry.code().wire());
        body.put("description", entry.description());
        body.put("created_at", entry.createdAt().toString());
        body.put("reverses_entry_id", entry.reversesEntryId());
        body.put("reversed_by_entry_id", entry.reversedByEntryId());
        body.put("metadata", entry.metadataJson());
        List<Map<String, Object>> postings = new ArrayList<>();
        for (Posting p : entry.postings()) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("account_id", p.accountId());
            row.put("debit", Money.formatUsd(Math.max(0, p.amountNanoUsd())));
            row.put("credit", Money.formatUsd(Math.max(0, -p.amountNanoUsd())));
            postings.add(row);
        }
        body.put("postings", postings);
        return body;
    }

    private static UUID parseUuid(String value, String field) {
        try {
            return UUID.fromString(value);
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field, "'" + field + "' must be a UUID; got \"" + value + "\".");
        }
    }

    /** A report period [from, to): ISO-8601 instants or dates (a date means its start, UTC). */
    record Period(Instant from, Instant to) {

        static Period parse(String from, String to) {
            Instant start = from == null || from.isBlank() ? Instant.EPOCH : IsoInstants.parse(from, "from");
            Instant end = to == null || to.isBlank() ? Instant.now() : IsoInstants.parse(to, "to");
            if (!start.isBefore(end)) {
                throw ApiException.invalid("to", "'to' (" + end + ") must be after 'from' (" + start + ").");
            }
            return new Period(start, end);
        }
    }
}
