package dev.tokenmarket.platform;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;
import io.smallrye.config.WithParentName;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Where Kafka is, how the application's topics are laid out, and the client properties every producer, consumer
 * and admin client of the application is given.
 * <p>
 * Any {@code kafka.<client property>} (or its environment form, {@code KAFKA_SASL_MECHANISM} for
 * {@code kafka.sasl.mechanism}: Kafka's client property names are lower case words joined by dots, so the form maps
 * back without ambiguity) is passed through to every client, so that an operator can add TLS, SASL/SCRAM or any
 * tuning without a code change. The application's own settings on a client (acks, idempotence, the timeouts and
 * group settings its guarantees rely on) win over passed-through ones; the keys below are the application's, not
 * clients'.
 */
@ConfigMapping(prefix = "kafka")
public interface KafkaSettings {

    /** The application's own keys under {@code kafka.}, in property form; they are never passed to a client. */
    List<String> OWN_KEY_PREFIXES = List.of("usage-topic.", "topics.");

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
     * Whether the application creates its topics when they are missing. Off where something else owns them
     * (Strimzi's KafkaTopic resources): a missing topic then stops the start with its name.
     */
    @WithName("topics.create")
    @WithDefault("true")
    boolean createTopics();

    /**
     * Every key under {@code kafka.}, the application's and the client properties alike. Declared so that the
     * configuration accepts any client property: a key no mapping declares stops the start as unknown.
     */
    @WithParentName
    Map<String, String> keys();

    /** The passed-through client properties with the bootstrap servers: what every client starts from. */
    default Map<String, Object> client() {
        Config config = ConfigProvider.getConfig();
        Map<String, Object> settings = new HashMap<>(passedThrough(config.getPropertyNames(),
                name -> config.getOptionalValue(name, String.class)));
        settings.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
        return settings;
    }

    /** Settings of an admin client whose calls give up after {@code timeout}. */
    default Map<String, Object> admin(Duration timeout) {
        Map<String, Object> settings = client();
        settings.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        settings.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, (int) timeout.toMillis());
        return settings;
    }

    /**
     * Settings of a producer for events that must reach the topic exactly once per send: acknowledged by
     * every in-sync replica, retried without duplicates (idempotence), and given up on (the caller keeps the
     * event to send again) after {@code deliveryTimeout} (at least the 5 s request timeout plus the linger). Callers add
     * their own batching settings.
     */
    default Map<String, Object> reliableProducer(Duration deliveryTimeout) {
        Map<String, Object> settings = client();
        settings.put(ProducerConfig.ACKS_CONFIG, "all");
        settings.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        settings.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000);
        settings.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
        settings.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) deliveryTimeout.toMillis());
        return settings;
    }

    /**
     * The client properties among {@code names}: {@code kafka.x.y} gives {@code x.y}, and {@code KAFKA_X_Y} (the
     * environment form) gives {@code x.y} unless {@code kafka.x.y} is set too. The application's own keys are left out.
     */
    static Map<String, String> passedThrough(Iterable<String> names, Function<String, Optional<String>> value) {
        Map<String, String> dotted = new TreeMap<>();
        Map<String, String> environment = new TreeMap<>();
        for (String name : names) {
            String key = clientProperty(name);
            if (key == null) {
                continue;
            }
            Map<String, String> target = name.startsWith("kafka.") ? dotted : environment;
            value.apply(name).filter(v -> !v.isBlank()).ifPresent(v -> target.put(key, v));
        }
        environment.forEach(dotted::putIfAbsent);
        return dotted;
    }

    /** The client property a configuration name sets, or null when it sets none. */
    static String clientProperty(String name) {
        String key;
        if (name.startsWith("kafka.")) {
            key = name.substring("kafka.".length());
        } else if (name.startsWith("KAFKA_") && name.equals(name.toUpperCase(Locale.ROOT))) {
            key = name.substring("KAFKA_".length()).toLowerCase(Locale.ROOT).replace('_', '.');
        } else {
            return null;
        }
        // KAFKA_USAGE_TOPIC_PARTITIONS is the environment form of kafka.usage-topic.partitions.
        String dotsOnly = key.replace('-', '.');
        for (String own : OWN_KEY_PREFIXES) {
            if (dotsOnly.startsWith(own.replace('-', '.'))) {
                return null;
            }
        }
        return key.isEmpty() ? null : key;
    }
}
