package dev.tokenmarket.identity;

import dev.tokenmarket.ledger.LedgerAccounts;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.time.OffsetDateTime;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** Organizations, their keys, and turning a presented key into a {@link Caller}. */
@ApplicationScoped
public class IdentityService {

    /** The organization that owns the admin key. */
    public static final UUID PLATFORM_ORG_ID = UUID.fromString("00000000-0000-0000-0000-000000000001");
    private static final int ORG_ROLES_MAX = 5;
    private static final int NAME_LENGTH_MAX = 200;
    /** Authenticated keys are remembered this long, so the gateway does not read the database per request. */
    private static final long CACHE_TTL_NANOS = 5_000_000_000L;
    private static final int CACHE_SIZE_MAX = 100_000;

    private record CachedCaller(Caller caller, long expiresAtNanos) {
    }

    private final Map<String, CachedCaller> cache = new ConcurrentHashMap<>();

    @Inject
    LedgerAccounts ledgerAccounts;

    public record CreatedKey(UUID id, UUID orgId, String name, String secret, String prefix) {
    }

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
        // Flushed first: the ledger writes with plain JDBC in this transaction and references the row.
        org.persistAndFlush();
        ledgerAccounts.openAccountsFor(org.id, roles.contains(Role.BUYER), roles.contains(Role.PROVIDER));
        return org;
    }

    public Organization organization(UUID orgId) {
        Organization org = Organization.findById(orgId);
        if (org == null) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No organization with id " + orgId + ".");
        }
        return org;
    }

    @Transactional
    public CreatedKey createKey(UUID orgId, String name) {
        organization(orgId);
        return insertKey(orgId, requireName(name, "name"), ApiKeys.newSecret());
    }

    private CreatedKey insertKey(UUID orgId, String name, String secret) {
        ApiKey key = new ApiKey();
        key.id = UUID.randomUUID();
        key.orgId = orgId;
        key.name = name;
        key.keySha256 = ApiKeys.sha256(secret);
        key.keyPrefix = ApiKeys.prefix(secret);
        key.createdAt = OffsetDateTime.now();
        key.persist();
        return new CreatedKey(key.id, orgId, name, secret, key.keyPrefix);
    }

    /** The caller behind {@code secret}, or null when the key is unknown or revoked. */
    public Caller authenticate(String secret) {
        byte[] digest = ApiKeys.sha256(secret);
        String cacheKey = HexFormat.of().formatHex(digest);
        long now = System.nanoTime();
        CachedCaller cached = cache.get(cacheKey);
        if (cached != null && cached.expiresAtNanos - now > 0) {
            return cached.caller;
        }
        Caller caller = lookUp(digest);
        if (caller != null) {
            if (cache.size() >= CACHE_SIZE_MAX) {
                cache.clear();
            }
            cache.put(cacheKey, new CachedCaller(caller, now + CACHE_TTL_NANOS));
        }
        return caller;
    }

    private Caller lookUp(byte[] digest) {
        ApiKey key = ApiKey.find("keySha256 = ?1 and revokedAt is null", (Object) digest).firstResult();
        if (key == null) {
            return null;
        }
        Organization org = Organization.findById(key.orgId);
        Set<Role> roles = EnumSet.noneOf(Role.class);
        Arrays.stream(org.roles).map(Role::fromWire).forEach(roles::add);
        return new Caller(org.id, key.id, roles);
    }

    /**
     * Makes sure the platform organization exists and that {@code configuredSecret} (when given) is an
     * admin key. Answers a newly generated secret when none was configured and no admin key exists yet,
     * so it can be shown once; otherwise null.
     */
    @Transactional
    public String ensureAdminKey(String configuredSecret) {
        if (Organization.findById(PLATFORM_ORG_ID) == null) {
            Organization platform = new Organization();
            platform.id = PLATFORM_ORG_ID;
            platform.name = "tokenmarket platform";
            platform.roles = new String[] {Role.ADMIN.wireName()};
            platform.createdAt = OffsetDateTime.now();
            platform.persist();
        }
        if (configuredSecret != null && !configuredSecret.isBlank()) {
            if (ApiKey.count("keySha256", (Object) ApiKeys.sha256(configuredSecret)) == 0) {
                insertKey(PLATFORM_ORG_ID, "admin (TOKENMARKET_ADMIN_KEY)", configuredSecret);
            }
            return null;
        }
        if (ApiKey.count("orgId = ?1 and revokedAt is null", PLATFORM_ORG_ID) > 0) {
            return null;
        }
        return insertKey(PLATFORM_ORG_ID, "admin (generated)", ApiKeys.newSecret()).secret();
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
