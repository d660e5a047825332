package dev.tokenmarket.ledger;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.Money;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.LinkedHashMap;
import java.util.Map;

/** Buyer (or provider): the balance of the caller's own organization. */
@Path("/api/balance")
@Produces(MediaType.APPLICATION_JSON)
public class BalanceResource {

    @Inject
    Balances balances;

    @Inject
    LedgerAccounts accounts;

    @Inject
    CurrentCaller currentCaller;

    @GET
    public Map<String, Object> balance() {
        Caller caller = currentCaller.get();
        caller.require(Role.BUYER, Role.PROVIDER);
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("org_id", caller.orgId());
        if (caller.has(Role.BUYER)) {
            body.putAll(view(balances.balance(accounts.walletOf(caller.orgId()))));
        }
        if (caller.has(Role.PROVIDER)) {
            body.put("payable", view(balances.balance(accounts.payableOf(caller.orgId()))));
        }
        return body;
    }

    static Map<String, Object> view(Balances.Balance balance) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("available", Money.formatUsd(balance.availableNanoUsd()));
        body.put("held", Money.formatUsd(balance.heldNanoUsd()));
        body.put("posted", Money.formatUsd(balance.postedNanoUsd()));
        if (balance.creditLimitNanoUsd() > 0) {
            body.put("credit_limit", Money.formatUsd(balance.creditLimitNanoUsd()));
        }
        return body;
    }
}
