package dev.tokenmarket.identity;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/** Organizations, and the platform organization with its admin key. */
@ApplicationScoped
public class IdentityService {

    /** The organization that owns the admin key. */
    public static final UUID PLATFORM_ORG_ID = UUID.fromString("00000000-0000-0000-0000-000000000001");
    /** The advisory lock that makes the admin key set up once when several replicas start together. */
    private static final long ADMIN_KEY_LOCK = 0x746d5f61646d696eL;
    private static final int ORG_ROLES_MAX = 5;
    private static final int NAME_LENGTH_MAX = 200;

    @Inject
    OrganizationAccounts accounts;

    @Inject
    ApiKeyService keys;

    @Transactional
    public Organization createOrganization(String name, List<String> roleNames) {
        String trimmedName = requireName(name, "name");
        if (roleNames == null || roleNames.isEmpty()) {
            throw ApiException.invalid("roles", "Field 'roles' needs at least one of: admin, buyer, provider, finance, trader.");
        }
        if (roleNames.size() > ORG_ROLES_MAX) {
            throw ApiException.invalid("roles", "Field 'roles' has more than " + ORG_ROLES_MAX + " entries.");
        }
        Set<Role> roles = EnumSet.noneOf(Role.class);
        for (String roleName : roleNames) {
            Role role = Role.fromWire(roleName);
            if (role == null) {
                throw ApiException.invalid("roles", "Field 'roles' has unknown role '" + roleName
                        + "'; known roles are admin, buyer, provider, finance, trader.");
            }
            roles.add(role);
        }
        Organization org = new Organization();
        org.id = UUID.randomUUID();
        org.name = trimmedName;
        org.roles = roles.stream().map(Role::wireName).toArray(String[]::new);
        org.createdAt = OffsetDateTime.now();
        // Flushed first: the accounts are written with plain JDBC in this transaction and reference the row.
        org.persistAndFlush();
        accounts.open(org.id, roles);
        return org;
    }

    public Organization organization(UUID orgId) {
        Organization org = Organization.findById(orgId);
        if (org == null) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No organization with id " + orgId + ".");
        }
        return org;
    }

    /**
     * Makes sure the platform organization exists and that {@code configuredSecret} (when given) is the admin
     * key, refusing the admin keys of earlier configurations. Answers a newly generated secret when none was
     * configured and no valid admin key exists, so it can be shown once; otherwise null.
     */
    @Transactional
    public String ensureAdminKey(String configuredSecret) {
        // Replicas starting at once take turns, so that only the first on a new database generates a key.
        Organization.getEntityManager().createNativeQuery("select pg_advisory_xact_lock(?1)")
                .setParameter(1, ADMIN_KEY_LOCK).getSingleResult();
        Organization.getEntityManager().createNativeQuery("""
                        insert into organizations (id, name, roles) values (?1, 'tokenmarket platform', array['admin'])
                        on conflict (id) do nothing""")
                .setParameter(1, PLATFORM_ORG_ID).executeUpdate();
        return keys.ensureAdminKey(configuredSecret);
    }

    static String requireName(String name, String field) {
        if (name == null || name.isBlank()) {
            throw ApiException.invalid(field, "Field '" + field + "' is required.");
        }
        String trimmed = name.strip();
        if (trimmed.length() > NAME_LENGTH_MAX) {
            throw ApiException.invalid(field, "Field '" + field + "' is longer than " + NAME_LENGTH_MAX + " characters.");
        }
        return trimmed;
    }

    public static List<String> roleNames(Organization org) {
        return List.copyOf(new LinkedHashSet<>(Arrays.asList(org.roles)));
    }
}
