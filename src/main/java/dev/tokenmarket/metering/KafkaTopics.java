package dev.tokenmarket.metering;

import dev.tokenmarket.platform.KafkaSettings;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.inject.spi.ObserverMethod;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.jboss.logging.Logger;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Creates the usage and dead-letter topics at start-up when they do not exist yet. */
// Before the default-priority start-up observers (the ledger consumers, the outbox relay), so that they
// never look for a topic that does not exist yet.
@Startup(ObserverMethod.DEFAULT_PRIORITY - 100)
@ApplicationScoped
public class KafkaTopics {

    private static final Logger LOG = Logger.getLogger(KafkaTopics.class);

    @Inject
    KafkaSettings settings;

    @PostConstruct
    void createTopics() {
        try (Admin admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers(),
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000))) {
            for (NewTopic topic : List.of(
                    new NewTopic(UsageEvent.TOPIC, settings.usageTopicPartitions(), settings.replicationFactor()),
                    new NewTopic(UsageEvent.DEAD_LETTER_TOPIC, 1, settings.replicationFactor()))) {
                createUnlessExists(admin, topic);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating Kafka topics", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Kafka at " + settings.bootstrapServers() + " did not answer within 30 s", e);
        }
    }

    /** Creates {@code topic} unless it exists, for the contexts that own a topic of their own. */
    public static void create(KafkaSettings settings, NewTopic topic) {
        try (Admin admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers(),
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000))) {
            createUnlessExists(admin, topic);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating Kafka topic " + topic.name(), e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Kafka at " + settings.bootstrapServers() + " did not answer within 30 s", e);
        }
    }

    private static void createUnlessExists(Admin admin, NewTopic topic) throws InterruptedException, java.util.concurrent.TimeoutException {
        try {
            admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
            LOG.infof("created Kafka topic %s with %d partitions", topic.name(), topic.numPartitions());
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("could not create Kafka topic " + topic.name(), e.getCause());
            }
        }
    }
}
