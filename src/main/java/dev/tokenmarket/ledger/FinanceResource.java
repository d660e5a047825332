package dev.tokenmarket.ledger;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Finance: deposits, payouts, the trial balance and the ledger's self-check. */
@Path("/api/ledger")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class FinanceResource {

    private static final int IDEMPOTENCY_KEY_LENGTH_MAX = 255;
    private static final int REFERENCE_LENGTH_MAX = 500;

    /** {@code amount} is USD as a decimal string. */
    public record Transfer(UUID orgId, String amount, String reference) {
    }

    @Inject
    Ledger ledger;

    @Inject
    LedgerAccounts accounts;

    @Inject
    CurrentCaller currentCaller;

    /** Money in: platform cash debited, the buyer's wallet credited. */
    @POST
    @Path("/deposits")
    public Response deposit(@HeaderParam("Idempotency-Key") String idempotencyKey, Transfer request) {
        Caller caller = currentCaller.get();
        caller.require(Role.FINANCE);
        TransferDraft t = draft("deposit", caller, idempotencyKey, request);
        long wallet = accounts.walletOf(t.orgId);
        return answer(ledger.post(new EntryDraft(t.entryId, "deposit", "deposit: " + t.reference, t.metadata, t.digest,
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
        return answer(ledger.post(new EntryDraft(t.entryId, "payout", "payout: " + t.reference, t.metadata, t.digest,
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

    private Response answer(Ledger.PostedEntry posted, TransferDraft t, long accountId) {
        Ledger.Balance balance = ledger.balance(accountId);
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
        for (Ledger.AccountBalance a : ledger.allAccounts()) {
            debits = Math.addExact(debits, a.debitsNanoUsd());
            credits = Math.addExact(credits, a.creditsNanoUsd());
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("account_id", a.id());
            row.put("code", a.code());
            row.put("kind", a.kind());
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

    /** Recomputes every balance from the postings and open holds and lists any difference (there must be none). */
    @GET
    @Path("/verification")
    public Map<String, Object> verification() {
        currentCaller.get().require(Role.FINANCE);
        List<Map<String, Object>> discrepancies = new ArrayList<>();
        for (Ledger.Discrepancy d : ledger.verify()) {
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
        return Map.of("consistent", discrepancies.isEmpty(), "discrepancies", discrepancies);
    }
}
