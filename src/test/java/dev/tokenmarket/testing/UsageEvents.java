package dev.tokenmarket.testing;

import dev.tokenmarket.metering.UsageEvent;
import dev.tokenmarket.metering.UsageEventCodec;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.TimeOrderedIds;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

import java.time.Instant;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Writes usage events straight onto the usage topic, as a gateway's outbox relay does, for tests that
 * need more events, duplicates or broken records than serving requests would give.
 */
public final class UsageEvents implements AutoCloseable {

    public static final int FEE_BPS = 500;
    private static final String MODEL = "stories260k";

    private final KafkaProducer<String, String> producer;

    public UsageEvents(String bootstrapServers) {
        this(bootstrapServers, 5);
    }

    /**
     * A producer that waits up to {@code lingerMs} to fill a batch: longer, fewer and larger requests for the
     * broker, which shares the machine with the ledger when the benchmark sends thousands of events a second.
     */
    public UsageEvents(String bootstrapServers, int lingerMs) {
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.LINGER_MS_CONFIG, lingerMs,
                // Large batches: the benchmark produces a million events through this producer.
                ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024),
                new StringSerializer(), new StringSerializer());
    }

    /** A well-formed event of {@code completionTokens} tokens at 1 USD per million prompt and 2 per million completion tokens. */
    public static UsageEvent event(String buyerOrgId, String providerOrgId, int promptTokens, int completionTokens) {
        // Time-ordered event and hold ids, as the gateway's are.
        UUID eventId = TimeOrderedIds.next();
        return event(eventId, MODEL, buyerOrgId, providerOrgId, promptTokens, completionTokens, TimeOrderedIds.next());
    }

    /** The same for a hold the test placed itself. */
    public static UsageEvent event(String buyerOrgId, String providerOrgId, int promptTokens, int completionTokens,
                                   UUID holdId) {
        return event(TimeOrderedIds.next(), MODEL, buyerOrgId, providerOrgId, promptTokens, completionTokens, holdId);
    }

    /** The same for a model of another name (the others are all {@value #MODEL}). */
    public static UsageEvent event(String model, String buyerOrgId, String providerOrgId, int promptTokens,
                                   int completionTokens) {
        return event(TimeOrderedIds.next(), model, buyerOrgId, providerOrgId, promptTokens, completionTokens,
                TimeOrderedIds.next());
    }

    private static UsageEvent event(UUID eventId, String model, String buyerOrgId, String providerOrgId,
                                    int promptTokens, int completionTokens, UUID holdId) {
        long promptPrice = Money.NANO_PER_USD;
        long completionPrice = 2 * Money.NANO_PER_USD;
        long cost = Money.cost(promptTokens, promptPrice, completionTokens, completionPrice);
        return new UsageEvent(eventId, Instant.now(), UUID.fromString(buyerOrgId), UUID.randomUUID(),
                UUID.randomUUID(), UUID.fromString(providerOrgId), model, promptTokens, completionTokens,
                promptPrice, completionPrice, cost, Money.fee(cost, FEE_BPS), holdId, 1, 10, 11, "length");
    }

    /** Sends an event keyed by its buyer, as the gateway does. */
    public Future<?> send(UsageEvent e) {
        return producer.send(new ProducerRecord<>(UsageEvent.TOPIC, e.buyerOrgId().toString(), UsageEventCodec.toJson(e)));
    }

    /** Sends a record value as it is: an event already encoded, or a poison message. */
    public Future<?> sendRaw(String key, String value) {
        return producer.send(new ProducerRecord<>(UsageEvent.TOPIC, key, value));
    }

    public void flush() {
        producer.flush();
    }

    @Override
    public void close() {
        producer.close(java.time.Duration.ofSeconds(5));
    }

    /** Waits for a send to be acknowledged by the broker. */
    public static void acknowledged(Future<?> send) throws Exception {
        send.get(30, TimeUnit.SECONDS);
    }
}
