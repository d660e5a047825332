package dev.tokenmarket.platform;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

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
}
