package dev.tokenmarket.catalog;

import io.quarkus.hibernate.orm.panache.PanacheEntityBase;
import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

import java.time.OffsetDateTime;
import java.util.UUID;

/** A provider's standing offer: a model served on some hardware at a price and a declared speed. */
@Entity
@Table(name = "endpoints")
public class Endpoint extends PanacheEntityBase {

    @Id
    public UUID id;
    @Column(name = "provider_org_id")
    public UUID providerOrgId;
    public String model;
    public String hardware;
    @Column(name = "hardware_class")
    public String hardwareClass;
    public String region;
    @Column(name = "prompt_price_nano_usd_per_mtok")
    public long promptPriceNanoUsdPerMillionTokens;
    @Column(name = "completion_price_nano_usd_per_mtok")
    public long completionPriceNanoUsdPerMillionTokens;
    @Column(name = "declared_throughput_tps")
    public int declaredThroughputTps;
    @Column(name = "declared_ttft_ms")
    public int declaredTtftMs;
    @Column(name = "capacity_tokens_per_minute")
    public int capacityTokensPerMinute;
    @Column(name = "capacity_max_concurrency")
    public int capacityMaxConcurrency;
    @Column(name = "backend_type")
    public String backendType;
    @Column(name = "backend_url")
    public String backendUrl;
    /** Encrypted with the platform's secret key (see {@link SecretBox}); never returned by the API. */
    @Column(name = "backend_api_key")
    public String backendApiKeyEncrypted;
    @Column(name = "backend_model")
    public String backendModel;
    @Column(name = "backend_max_tokens_per_second")
    public Integer backendMaxTokensPerSecond;
    /** The optional request parameters an OpenAI-compatible upstream takes; null: OpenAI's own set. */
    @Column(name = "backend_parameters")
    public String[] backendParameters;
    public String status;
    @Column(name = "price_version")
    public int priceVersion;
    @Column(name = "created_at")
    public OffsetDateTime createdAt;
    @Column(name = "updated_at")
    public OffsetDateTime updatedAt;
}
