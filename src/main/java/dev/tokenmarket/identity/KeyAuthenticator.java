package dev.tokenmarket.identity;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.Set;
import java.util.UUID;

/**
 * Turns a presented secret into a {@link Caller}. Each replica remembers the keys it authenticated for
 * {@link #CACHE_TTL}, so the gateway does not read the database per request; that is also how long a
 * revocation on another replica takes to apply here. Expiry and the end of a rotation's grace period are
 * checked on every request, cached or not, so they apply to the second.
 */
@ApplicationScoped
public class KeyAuthenticator {

    /**
     * Entries expire this long after they were read. A revocation applies on every replica within this plus
     * the time of one lookup in flight when it committed, which the README states as at most 5 s.
     */
    public static final Duration CACHE_TTL = Duration.ofSeconds(4);
    public static final Duration REVOCATION_BOUND = Duration.ofSeconds(5);
    private static final int CACHE_SIZE_MAX = 100_000;

    /** A key that was valid when read, and the instant it stops being so (null: not before it is revoked). */
    private record Authenticated(Caller caller, Instant validUntil) {
        boolean validAt(Instant now) {
            return validUntil == null || now.isBefore(validUntil);
        }
    }

    private final Cache<String, Authenticated> cache = Caffeine.newBuilder()
            .expireAfterWrite(CACHE_TTL).maximumSize(CACHE_SIZE_MAX).build();

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LastUsedRecorder lastUsed;

    /** The caller behind {@code secret}; a 401 {@code invalid_api_key} that says why when there is none. */
    public Caller authenticate(String secret) {
        byte[] digest = ApiKeys.sha256(secret);
        String cacheKey = HexFormat.of().formatHex(digest);
        Instant now = Instant.now();
        Authenticated cached = cache.getIfPresent(cacheKey);
        if (cached == null || !cached.validAt(now)) {
            cached = lookUp(digest, now);
            cache.put(cacheKey, cached);
        }
        lastUsed.used(cached.caller().keyId());
        return cached.caller();
    }

    /** Forgets {@code digests} on this replica at once (other replicas within {@link #CACHE_TTL}). */
    void forget(byte[]... digests) {
        for (byte[] digest : digests) {
            if (digest != null) {
                cache.invalidate(HexFormat.of().formatHex(digest));
            }
        }
    }

    private Authenticated lookUp(byte[] digest, Instant now) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select k.id, k.org_id, o.roles, k.key_sha256 = ? as current_secret, k.revoked_at, k.expires_at,
                            k.previous_valid_until
                     from api_keys k join organizations o on o.id = k.org_id
                     where k.key_sha256 = ? or k.previous_key_sha256 = ?""")) {
            ps.setBytes(1, digest);
            ps.setBytes(2, digest);
            ps.setBytes(3, digest);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw refused("Invalid API key: it is unknown.");
                }
                UUID keyId = rs.getObject(1, UUID.class);
                UUID orgId = rs.getObject(2, UUID.class);
                Set<Role> roles = roles(rs.getArray(3));
                boolean currentSecret = rs.getBoolean(4);
                Instant revokedAt = instant(rs, 5);
                Instant expiresAt = instant(rs, 6);
                Instant previousValidUntil = currentSecret ? null : instant(rs, 7);
                if (revokedAt != null) {
                    throw refused("Invalid API key: it was revoked at " + revokedAt + ".");
                }
                if (expiresAt != null && !now.isBefore(expiresAt)) {
                    throw refused("Invalid API key: it expired at " + expiresAt + "; create a new key.");
                }
                if (previousValidUntil != null && !now.isBefore(previousValidUntil)) {
                    throw refused("Invalid API key: it was replaced by a rotation and its grace period ended at "
                            + previousValidUntil + "; use the key's new secret.");
                }
                return new Authenticated(new Caller(orgId, keyId, roles), earlier(expiresAt, previousValidUntil));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not look up an API key", e);
        }
    }

    private static ApiException refused(String message) {
        return new ApiException(ErrorCode.UNAUTHENTICATED, message);
    }

    private static Set<Role> roles(Array array) throws SQLException {
        Set<Role> roles = EnumSet.noneOf(Role.class);
        for (Object name : (Object[]) array.getArray()) {
            Role role = Role.fromWire((String) name);
            if (role == null) {
                throw new IllegalStateException("an organization holds the unknown role " + name);
            }
            roles.add(role);
        }
        return roles;
    }

    private static Instant instant(ResultSet rs, int column) throws SQLException {
        OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
        return value == null ? null : value.toInstant();
    }

    private static Instant earlier(Instant a, Instant b) {
        if (a == null) {
            return b;
        }
        return b == null || a.isBefore(b) ? a : b;
    }
}
