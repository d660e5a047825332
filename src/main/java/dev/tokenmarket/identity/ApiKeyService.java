package dev.tokenmarket.identity;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.panache.common.Parameters;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.persistence.LockModeType;
import jakarta.transaction.Synchronization;
import jakarta.transaction.TransactionSynchronizationRegistry;
import jakarta.transaction.Transactional;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The life of an API key: created (the secret shown once), listed, rotated with a grace period, expired,
 * revoked. A key acts for its organization; every operation here is open to that organization and to
 * admins, and answers 403 for another organization's keys.
 */
@ApplicationScoped
public class ApiKeyService {

    /** How long a rotated-out secret may stay valid at most. */
    public static final long GRACE_SECONDS_MAX = Duration.ofHours(24).toSeconds();
    /** How far ahead an expiry may be set. */
    private static final Duration EXPIRY_AHEAD_MAX = Duration.ofDays(3_650);
    private static final int LIST_LIMIT_DEFAULT = 100;
    private static final int LIST_LIMIT_MAX = 1_000;
    private static final String CONFIGURED_ADMIN_KEY_NAME = "admin (TOKENMARKET_ADMIN_KEY)";

    @Inject
    IdentityService identity;

    @Inject
    KeyAuthenticator authenticator;

    @Inject
    LastUsedRecorder lastUsed;

    @Inject
    KeyLimitsDirectory limits;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    TransactionSynchronizationRegistry transactions;

    /** A key as listings show it: never its secret. {@code status} is active, expired or revoked. */
    public record KeyView(UUID id, UUID orgId, String name, String label, String prefix, String status,
                          Instant createdAt, Instant expiresAt, Instant revokedAt, Instant lastUsedAt,
                          Instant rotatedAt, Instant previousSecretValidUntil, KeyLimitsDirectory.Summary limits) {
    }

    /** The one answer that carries the secret ({@code key}); only its digest is stored. */
    public record CreatedKey(UUID id, UUID orgId, String name, String label, String key, String prefix,
                             Instant createdAt, Instant expiresAt) {
    }

    /** A rotation's answer: the new secret, and until when the one it replaced is still accepted. */
    public record RotatedKey(UUID id, UUID orgId, String key, String prefix, Instant rotatedAt,
                             Instant previousSecretValidUntil) {
    }

    public record KeyPage(List<KeyView> data, boolean hasMore) {
    }

    @Transactional
    public CreatedKey create(Caller caller, UUID orgId, String name, String label, String expiresAt) {
        requireOwnOrganization(caller, orgId);
        String keyName = IdentityService.requireName(name, "name");
        String keyLabel = optionalLabel(label);
        OffsetDateTime expiry = expiry(expiresAt);
        String secret = ApiKeys.newSecret();
        ApiKey key = insert(orgId, keyName, keyLabel, secret, ApiKey.KIND_API, expiry);
        return new CreatedKey(key.id, orgId, key.name, key.label, secret, key.keyPrefix,
                key.createdAt.toInstant(), expiry == null ? null : expiry.toInstant());
    }

    /** An organization's keys, newest first; {@code startingAfter} is the last key of the previous page. */
    @Transactional
    public KeyPage list(Caller caller, UUID orgId, Integer limit, UUID startingAfter) {
        requireOwnOrganization(caller, orgId);
        int pageSize = limit == null ? LIST_LIMIT_DEFAULT : limit;
        if (pageSize < 1 || pageSize > LIST_LIMIT_MAX) {
            throw ApiException.invalid("limit", "Query parameter 'limit' must be 1 to " + LIST_LIMIT_MAX + ".");
        }
        // One more than the page, to tell whether another page follows.
        List<ApiKey> keys;
        if (startingAfter == null) {
            keys = ApiKey.find("orgId = ?1 order by createdAt desc, id desc", orgId).range(0, pageSize).list();
        } else {
            ApiKey after = ApiKey.findById(startingAfter);
            if (after == null || !after.orgId.equals(orgId)) {
                throw ApiException.invalid("starting_after", "Query parameter 'starting_after' must be the id of a key"
                        + " of organization " + orgId + ", the last one of the previous page.");
            }
            keys = ApiKey.find("orgId = :org and (createdAt < :at or (createdAt = :at and id < :id))"
                            + " order by createdAt desc, id desc",
                    Parameters.with("org", orgId).and("at", after.createdAt).and("id", after.id))
                    .range(0, pageSize).list();
        }
        boolean hasMore = keys.size() > pageSize;
        if (hasMore) {
            keys = keys.subList(0, pageSize);
        }
        Map<UUID, KeyLimitsDirectory.Summary> keyLimits = limits.limitsOf(keys.stream().map(k -> k.id).toList());
        return new KeyPage(keys.stream().map(k -> view(k, keyLimits)).toList(), hasMore);
    }

    @Transactional
    public KeyView get(Caller caller, UUID keyId) {
        ApiKey key = ownKey(caller, keyId, LockModeType.NONE);
        return view(key, limits.limitsOf(List.of(key.id)));
    }

    /** Refuses the key from now on: at once on this replica, within {@link KeyAuthenticator#REVOCATION_BOUND} on all. */
    @Transactional
    public KeyView revoke(Caller caller, UUID keyId) {
        ApiKey key = ownKey(caller, keyId, LockModeType.PESSIMISTIC_WRITE);
        requireManagedByApi(key, "revoked");
        if (key.revokedAt == null) {
            key.revokedAt = now();
        }
        forgetOnceCommitted(key.keySha256, key.previousKeySha256);
        return view(key, limits.limitsOf(List.of(key.id)));
    }

    /**
     * Gives the key a new secret. The secret it had stays valid for {@code graceSeconds} (0 to 24 h) so
     * that clients can switch without an outage; a secret replaced earlier and still in its grace period is
     * refused from now on, as only one replaced secret is kept.
     */
    @Transactional
    public RotatedKey rotate(Caller caller, UUID keyId, Long graceSeconds) {
        if (graceSeconds == null || graceSeconds < 0 || graceSeconds > GRACE_SECONDS_MAX) {
            throw ApiException.invalid("grace_seconds", "Field 'grace_seconds' is required: how long the current secret"
                    + " stays valid after the rotation, 0 to " + GRACE_SECONDS_MAX + " seconds (24 h).");
        }
        ApiKey key = ownKey(caller, keyId, LockModeType.PESSIMISTIC_WRITE);
        requireManagedByApi(key, "rotated");
        OffsetDateTime now = now();
        if (key.revokedAt != null) {
            throw new ApiException(ErrorCode.KEY_NOT_ACTIVE, "Key " + keyId + " was revoked at "
                    + key.revokedAt.toInstant() + "; a revoked key cannot be rotated. Create a new key.");
        }
        if (key.expiresAt != null && !now.isBefore(key.expiresAt)) {
            throw new ApiException(ErrorCode.KEY_NOT_ACTIVE, "Key " + keyId + " expired at "
                    + key.expiresAt.toInstant() + "; an expired key cannot be rotated. Create a new key.");
        }
        byte[] replaced = key.previousKeySha256;
        String secret = ApiKeys.newSecret();
        key.previousKeySha256 = key.keySha256;
        key.previousValidUntil = now.plusSeconds(graceSeconds);
        key.keySha256 = ApiKeys.sha256(secret);
        key.keyPrefix = ApiKeys.prefix(secret);
        key.rotatedAt = now;
        forgetOnceCommitted(key.previousKeySha256, replaced);
        return new RotatedKey(key.id, key.orgId, secret, key.keyPrefix, now.toInstant(), key.previousValidUntil.toInstant());
    }

    /**
     * Makes {@code configuredSecret} (when given) the admin key and refuses every admin key an earlier
     * configuration made, so that changing {@code TOKENMARKET_ADMIN_KEY} and restarting rotates it. Without
     * one, keeps the admin keys there are, or generates one when none is valid and answers its secret so it
     * can be shown once; otherwise answers null. The platform organization exists when this is called.
     */
    String ensureAdminKey(String configuredSecret) {
        if (configuredSecret != null && !configuredSecret.isBlank()) {
            makeConfiguredAdminKey(configuredSecret);
            return null;
        }
        if (ApiKey.count("orgId = ?1 and revokedAt is null and (expiresAt is null or expiresAt > ?2)",
                IdentityService.PLATFORM_ORG_ID, now()) > 0) {
            return null;
        }
        String secret = ApiKeys.newSecret();
        insert(IdentityService.PLATFORM_ORG_ID, "admin (generated)", null, secret, ApiKey.KIND_GENERATED, null);
        return secret;
    }

    private void makeConfiguredAdminKey(String secret) {
        byte[] digest = ApiKeys.sha256(secret);
        try (Connection c = dataSource.getConnection()) {
            try (PreparedStatement ps = c.prepareStatement("""
                    update api_keys set revoked_at = now()
                    where org_id = ? and kind in ('configured', 'generated') and key_sha256 <> ? and revoked_at is null""")) {
                ps.setObject(1, IdentityService.PLATFORM_ORG_ID);
                ps.setBytes(2, digest);
                ps.executeUpdate();
            }
            // Several replicas may start at once with the same key; the same key configured again is reinstated.
            try (PreparedStatement ps = c.prepareStatement("""
                    insert into api_keys (id, org_id, name, key_sha256, key_prefix, kind, created_at)
                    values (?, ?, ?, ?, ?, 'configured', now())
                    on conflict (key_sha256) do update set revoked_at = null, expires_at = null, kind = 'configured'
                        where api_keys.org_id = excluded.org_id
                    returning id""")) {
                ps.setObject(1, UUID.randomUUID());
                ps.setObject(2, IdentityService.PLATFORM_ORG_ID);
                ps.setString(3, CONFIGURED_ADMIN_KEY_NAME);
                ps.setBytes(4, digest);
                ps.setString(5, ApiKeys.prefix(secret));
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        throw new IllegalStateException("TOKENMARKET_ADMIN_KEY is the secret of another organization's"
                                + " API key; choose a new random admin key");
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the configured admin key", e);
        }
    }

    private ApiKey insert(UUID orgId, String name, String label, String secret, String kind, OffsetDateTime expiresAt) {
        ApiKey key = new ApiKey();
        key.id = UUID.randomUUID();
        key.orgId = orgId;
        key.name = name;
        key.label = label;
        key.keySha256 = ApiKeys.sha256(secret);
        key.keyPrefix = ApiKeys.prefix(secret);
        key.kind = kind;
        key.createdAt = now();
        key.expiresAt = expiresAt;
        key.persist();
        return key;
    }

    /**
     * Drops the secrets from this replica's cache when the transaction ends: dropped before the commit, a
     * request in between would read the old row and cache it again.
     */
    private void forgetOnceCommitted(byte[]... digests) {
        transactions.registerInterposedSynchronization(new Synchronization() {
            @Override
            public void beforeCompletion() {
            }

            @Override
            public void afterCompletion(int status) {
                authenticator.forget(digests);
            }
        });
    }

    private void requireOwnOrganization(Caller caller, UUID orgId) {
        if (caller.has(Role.ADMIN)) {
            identity.organization(orgId);
        } else if (!caller.orgId().equals(orgId)) {
            throw new ApiException(ErrorCode.FORBIDDEN, "Organization " + orgId
                    + " is not this key's organization; a key manages only its own organization's keys.");
        }
    }

    private static ApiKey ownKey(Caller caller, UUID keyId, LockModeType lock) {
        ApiKey key = ApiKey.findById(keyId, lock);
        if (key == null) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No key " + keyId + ".");
        }
        if (!caller.has(Role.ADMIN) && !key.orgId.equals(caller.orgId())) {
            throw new ApiException(ErrorCode.FORBIDDEN, "Key " + keyId + " belongs to another organization.");
        }
        return key;
    }

    private static void requireManagedByApi(ApiKey key, String verb) {
        if (ApiKey.KIND_CONFIGURED.equals(key.kind)) {
            throw new ApiException(ErrorCode.KEY_MANAGED_BY_CONFIGURATION, "Key " + key.id + " is the admin key from"
                    + " TOKENMARKET_ADMIN_KEY and cannot be " + verb + " here: set a new TOKENMARKET_ADMIN_KEY and"
                    + " restart, which refuses the old one.");
        }
    }

    private KeyView view(ApiKey key, Map<UUID, KeyLimitsDirectory.Summary> keyLimits) {
        Instant now = Instant.now();
        String status = key.revokedAt != null ? "revoked"
                : key.expiresAt != null && !now.isBefore(key.expiresAt.toInstant()) ? "expired" : "active";
        Instant used = latest(instant(key.lastUsedAt), lastUsed.pendingUse(key.id));
        return new KeyView(key.id, key.orgId, key.name, key.label, key.keyPrefix, status, instant(key.createdAt),
                instant(key.expiresAt), instant(key.revokedAt), used, instant(key.rotatedAt),
                instant(key.previousValidUntil), keyLimits.getOrDefault(key.id, KeyLimitsDirectory.Summary.NONE));
    }

    private static String optionalLabel(String label) {
        if (label == null) {
            return null;
        }
        return IdentityService.requireName(label, "label");
    }

    private static OffsetDateTime expiry(String expiresAt) {
        if (expiresAt == null) {
            return null;
        }
        OffsetDateTime expiry;
        try {
            expiry = OffsetDateTime.parse(expiresAt).withOffsetSameInstant(ZoneOffset.UTC);
        } catch (DateTimeParseException e) {
            throw ApiException.invalid("expires_at", "Field 'expires_at' must be an RFC 3339 time with an offset,"
                    + " such as 2027-01-31T00:00:00Z; got '" + expiresAt + "'.");
        }
        OffsetDateTime now = now();
        if (!expiry.isAfter(now)) {
            throw ApiException.invalid("expires_at", "Field 'expires_at' must be in the future; got " + expiresAt + ".");
        }
        if (expiry.isAfter(now.plus(EXPIRY_AHEAD_MAX))) {
            throw ApiException.invalid("expires_at", "Field 'expires_at' may be at most " + EXPIRY_AHEAD_MAX.toDays()
                    + " days ahead; omit it for a key that does not expire.");
        }
        return expiry;
    }

    /** To the microsecond, as PostgreSQL stores it, so that an answer shows what a later read shows. */
    private static OffsetDateTime now() {
        return OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.MICROS);
    }

    private static Instant instant(OffsetDateTime value) {
        return value == null ? null : value.toInstant();
    }

    private static Instant latest(Instant a, Instant b) {
        if (a == null) {
            return b;
        }
        return b == null || b.isBefore(a) ? a : b;
    }
}
