package dev.tokenmarket.identity;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.time.OffsetDateTime;
import java.util.UUID;

@Entity
@Table(name = "api_keys")
public class ApiKey extends PanacheEntityBase {

    /** Who manages a key: the API, or the configuration ({@code TOKENMARKET_ADMIN_KEY}, or generated at the first start). */
    public static final String KIND_API = "api";
    public static final String KIND_CONFIGURED = "configured";
    public static final String KIND_GENERATED = "generated";

    @Id
    public UUID id;

    @Column(name = "org_id")
    public UUID orgId;

    public String name;

    public String label;

    @Column(name = "key_sha256")
    public byte[] keySha256;

    @Column(name = "key_prefix")
    public String keyPrefix;

    public String kind;

    @Column(name = "created_at")
    public OffsetDateTime createdAt;

    @Column(name = "expires_at")
    public OffsetDateTime expiresAt;

    @Column(name = "revoked_at")
    public OffsetDateTime revokedAt;

    @Column(name = "last_used_at")
    public OffsetDateTime lastUsedAt;

    @Column(name = "previous_key_sha256")
    public byte[] previousKeySha256;

    @Column(name = "previous_valid_until")
    public OffsetDateTime previousValidUntil;

    @Column(name = "rotated_at")
    public OffsetDateTime rotatedAt;
}
