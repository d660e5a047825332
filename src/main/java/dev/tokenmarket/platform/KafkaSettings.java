package dev.tokenmarket.platform;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import org.apache.kafka.clients.producer.ProducerConfig;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/** Where Kafka is and how the usage topic is laid out. */
@ConfigMapping(prefix = "kafka")
public interface KafkaSettings {

    /** Bootstrap servers; set by the embedded broker when none is configured. */
    @WithName("bootstrap.servers")
    String bootstrapServers();

    /** Partitions of the usage topic when the application creates it; settlement spreads over them. */
    @WithName("usage-topic.partitions")
    @WithDefault("8")
    int usageTopicPartitions();

    /** Replication factor of the topics the application creates (1 for a single local broker). */
    @WithName("topics.replication-factor")
    @WithDefault("1")
    short replicationFactor();

    /**
     * Settings of a producer for events that must reach the topic exactly once per send: acknowledged by
     * every in-sync replica, retried without duplicates (idempotence), and given up on (the caller keeps the
     * event to send again) after {@code deliveryTimeout} (at least the 5 s request timeout plus the linger). Callers add
     * their own batching settings.
     */
    default Map<String, Object> reliableProducer(Duration deliveryTimeout) {
        Map<String, Object> settings = new HashMap<>();
        settings.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        settings.put(ProducerConfig.ACKS_CONFIG, "all");
        settings.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        settings.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000);
        settings.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        settings.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) deliveryTimeout.toMillis());
        return settings;
    }
}
