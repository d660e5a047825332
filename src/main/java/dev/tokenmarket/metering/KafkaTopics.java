package dev.tokenmarket.metering;

import dev.tokenmarket.platform.KafkaSettings;
import io.quarkus.runtime.Startup;
import jakarta.enterprise.inject.spi.ObserverMethod;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Creates the usage and dead-letter topics at start-up when they do not exist yet, or, under
 * {@code kafka.topics.create=false} (the topics are someone else's, such as Strimzi's), checks that they exist.
 */
// Before the default-priority start-up observers (the ledger consumers, the outbox relay), so that they
// never look for a topic that does not exist yet.
@Startup(ObserverMethod.DEFAULT_PRIORITY - 100)
@ApplicationScoped
public class KafkaTopics {

    private static final Logger LOG = Logger.getLogger(KafkaTopics.class);
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Inject
    KafkaSettings settings;

    @PostConstruct
    void createTopics() {
        create(settings, List.of(
                new NewTopic(UsageEvent.TOPIC, settings.usageTopicPartitions(), settings.replicationFactor()),
                new NewTopic(UsageEvent.DEAD_LETTER_TOPIC, 1, settings.replicationFactor())));
    }

    /** Creates {@code topic} unless it exists (or checks that it exists), for the contexts that own a topic of their own. */
    public static void create(KafkaSettings settings, NewTopic topic) {
        create(settings, List.of(topic));
    }

    private static void create(KafkaSettings settings, List<NewTopic> topics) {
        try (Admin admin = Admin.create(settings.admin(TIMEOUT))) {
            for (NewTopic topic : topics) {
                if (settings.createTopics()) {
                    createUnlessExists(admin, topic);
                } else {
                    requireExists(admin, topic);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while creating Kafka topics", e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Kafka at " + settings.bootstrapServers() + " did not answer within 30 s", e);
        }
    }

    private static void createUnlessExists(Admin admin, NewTopic topic) throws InterruptedException, java.util.concurrent.TimeoutException {
        try {
            admin.createTopics(List.of(topic)).all().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            LOG.infof("created Kafka topic %s with %d partitions", topic.name(), topic.numPartitions());
        } catch (ExecutionException e) {
            if (!(e.getCause() instanceof TopicExistsException)) {
                throw new IllegalStateException("could not create Kafka topic " + topic.name(), e.getCause());
            }
        }
    }

    private static void requireExists(Admin admin, NewTopic topic) throws InterruptedException, java.util.concurrent.TimeoutException {
        try {
            admin.describeTopics(List.of(topic.name())).allTopicNames().get(TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                throw new IllegalStateException("Kafka topic " + topic.name() + " does not exist, and kafka.topics.create is"
                        + " false (KAFKA_TOPICS_CREATE): create it (on Kubernetes, its KafkaTopic in k8s/base), or let the"
                        + " application create it", e.getCause());
            }
            throw new IllegalStateException("could not describe Kafka topic " + topic.name(), e.getCause());
        }
    }
}
