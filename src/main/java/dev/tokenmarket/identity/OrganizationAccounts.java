package dev.tokenmarket.identity;

import java.util.Set;
import java.util.UUID;

/**
 * The accounts a new organization needs outside identity (a buyer's wallet, a provider's payable), opened
 * in the transaction that creates the organization, so neither exists without the other. The ledger
 * implements it: identity names no other context.
 */
public interface OrganizationAccounts {

    /** Opens the accounts {@code roles} call for; runs in the caller's transaction. */
    void open(UUID orgId, Set<Role> roles);
}
