package dev.tokenmarket.ledger;

import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.platform.KafkaSettings;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * How far the ledger's consumer group is behind the usage topic: per partition, what has been produced but
 * not yet settled and committed.
 */
@ApplicationScoped
public class ConsumerLag {

    private static final long TIMEOUT_SECONDS = 5;

    @Inject
    KafkaSettings kafka;

    private Admin admin;

    /** Lag per partition, or why it could not be measured (Kafka unreachable). */
    public record Lag(long total, Map<Integer, Long> byPartition, String unavailableReason) {

        Map<String, Object> view() {
            Map<String, Object> view = new LinkedHashMap<>();
            view.put("group", LedgerConsumer.GROUP_ID);
            view.put("topic", UsageEvent.TOPIC);
            if (unavailableReason != null) {
                view.put("available", false);
                view.put("reason", unavailableReason);
                return view;
            }
            view.put("available", true);
            view.put("total", total);
            Map<String, Long> partitions = new LinkedHashMap<>();
            byPartition.forEach((p, lag) -> partitions.put(String.valueOf(p), lag));
            view.put("by_partition", partitions);
            return view;
        }
    }

    private synchronized Admin admin() {
        if (admin == null) {
            admin = Admin.create(kafka.admin(java.time.Duration.ofSeconds(TIMEOUT_SECONDS)));
        }
        return admin;
    }

    public Lag measure() {
        return measure(UsageEvent.TOPIC, LedgerConsumer.GROUP_ID);
    }

    /**
     * Per partition: the end offset minus where the group will read next, which is its committed offset, or
     * the partition's first offset still held when the group never committed there or retention deleted
     * past its commit (the group resumes from the first record held, so that is all it has left to read).
     */
    Lag measure(String topic, String group) {
        try {
            Admin a = admin();
            List<TopicPartitionInfo> partitions = a.describeTopics(List.of(topic)).allTopicNames()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS).get(topic).partitions();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            Map<TopicPartition, OffsetSpec> earliest = new HashMap<>();
            for (TopicPartitionInfo p : partitions) {
                latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest());
                earliest.put(new TopicPartition(topic, p.partition()), OffsetSpec.earliest());
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = a.listOffsets(latest).all()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> starts = a.listOffsets(earliest).all()
                    .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetAndMetadata> committed = a.listConsumerGroupOffsets(group)
                    .partitionsToOffsetAndMetadata().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            Map<Integer, Long> byPartition = new java.util.TreeMap<>();
            long total = 0;
            for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end : ends.entrySet()) {
                OffsetAndMetadata done = committed.get(end.getKey());
                long next = Math.max(starts.get(end.getKey()).offset(), done == null ? 0 : done.offset());
                long lag = Math.max(0, end.getValue().offset() - next);
                byPartition.put(end.getKey().partition(), lag);
                total += lag;
            }
            return new Lag(total, byPartition, null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Lag(0, Map.of(), "interrupted");
        } catch (Exception e) {
            return new Lag(0, Map.of(), "Kafka did not answer within " + TIMEOUT_SECONDS + " s: " + e.getMessage());
        }
    }

    synchronized void close(@Observes ShutdownEvent event) {
        if (admin != null) {
            admin.close(java.time.Duration.ofSeconds(2));
            admin = null;
        }
    }
}
