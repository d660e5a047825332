package dev.tokenmarket.ledger;

import dev.tokenmarket.identity.OrganizationAccounts;
import dev.tokenmarket.identity.Role;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.util.Set;
import java.util.UUID;

/**
 * A new organization's ledger accounts: a wallet for a buyer, and for a trader or a provider too (forward
 * orders hold on it, bonds and fees come from it); a payable for a provider.
 */
@ApplicationScoped
class OrganizationLedgerAccounts implements OrganizationAccounts {

    @Inject
    LedgerAccounts accounts;

    @Override
    public void open(UUID orgId, Set<Role> roles) {
        accounts.openAccountsFor(orgId, roles.contains(Role.BUYER) || roles.contains(Role.TRADER) || roles.contains(Role.PROVIDER),
                roles.contains(Role.PROVIDER));
    }
}
