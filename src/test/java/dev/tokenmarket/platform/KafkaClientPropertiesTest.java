package dev.tokenmarket.platform;

import io.smallrye.config.PropertiesConfigSource;
import io.smallrye.config.SmallRyeConfig;
import io.smallrye.config.SmallRyeConfigBuilder;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** What an operator sets under kafka.* (or as KAFKA_* variables) reaches the application's Kafka clients. */
class KafkaClientPropertiesTest {

    @Test
    void shouldPassEveryKafkaClientPropertyThroughInEitherFormButNotTheApplicationsOwnKeys() {
        // Proves TLS/SCRAM settings set either way reach the clients, the dotted form winning, and topic layout keys do not.
        Map<String, String> configured = Map.of(
                "kafka.security.protocol", "SASL_SSL",
                "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT",
                "KAFKA_SASL_MECHANISM", "SCRAM-SHA-512",
                "KAFKA_SASL_JAAS_CONFIG", "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "kafka.ssl.truststore.type", "PEM",
                "kafka.usage-topic.partitions", "8",
                "KAFKA_USAGE_TOPIC_PARTITIONS", "12",
                "KAFKA_TOPICS_CREATE", "false",
                "kafka.topics.replication-factor", "3",
                "QUARKUS_HTTP_PORT", "8080");
        Map<String, String> passed = KafkaSettings.passedThrough(List.copyOf(configured.keySet()),
                name -> Optional.ofNullable(configured.get(name)));
        assertEquals(Map.of(
                "security.protocol", "SASL_SSL",
                "sasl.mechanism", "SCRAM-SHA-512",
                "sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "ssl.truststore.type", "PEM"), passed);
    }

    @Test
    void shouldMapTheEnvironmentFormOnlyWhenItIsUpperCase() {
        // Proves a lower-case variable named like a property is read as the property, never as an environment name.
        assertEquals("client.id", KafkaSettings.clientProperty("KAFKA_CLIENT_ID"));
        assertEquals("client.id", KafkaSettings.clientProperty("kafka.client.id"));
        assertEquals(null, KafkaSettings.clientProperty("Kafka_Client_Id"));
        assertEquals(null, KafkaSettings.clientProperty("KAFKA_TOPICS_CREATE"));
    }

    @Test
    void shouldAcceptAnyKafkaClientPropertyAsAConfigurationKey() {
        // Proves a client property no mapping names (set as kafka.x in a file or -D) does not stop the start as unknown.
        SmallRyeConfig config = new SmallRyeConfigBuilder().withMapping(KafkaSettings.class)
                .withSources(new PropertiesConfigSource(Map.of("kafka.bootstrap.servers", "127.0.0.1:9092",
                        "kafka.client.dns.lookup", "use_all_dns_ips", "kafka.topics.create", "false"), "test", 100))
                .build();
        KafkaSettings kafka = config.getConfigMapping(KafkaSettings.class);
        assertEquals(false, kafka.createTopics());
        assertEquals("use_all_dns_ips", kafka.keys().get("client.dns.lookup"));
    }
}
