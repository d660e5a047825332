package dev.tokenmarket.metering;

import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The usage event of a served request as the outbox relay puts it on the topic the ledger reads. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class UsageRelayTest {

    @Inject
    KafkaSettings kafka;

    @AfterEach
    void ledgerStillBalances() {
        Market.assertLedgerBalanced();
    }

    @Test
    void aServedRequestsEventReachesTheLedgerInTheEncodersExactBytes() {
        // Proves the relay sends what the encoder wrote, so the ledger's fast reader (which accepts only those
        // bytes) reads real events: the record off the topic is read by it and encodes back to the same bytes.
        Org buyer = Market.org("relay buyer", "buyer");
        Org provider = Market.org("relay provider", "provider");
        String endpoint = Market.endpoint(provider, "100.00", "200.00");
        Market.funded(buyer, "1.00");
        long costNanoUsd;
        try (KafkaConsumer<String, byte[]> topic = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "relay-reader-" + UUID.randomUUID(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false), new StringDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = topic.partitionsFor(UsageEvent.TOPIC).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            topic.assign(partitions);
            // From the end as it is now: only what is published from here on.
            topic.seekToEnd(partitions);
            partitions.forEach(topic::position);

            Response served = as(buyer.key()).body(Market.completion(endpoint, 16)).post("/v1/completions");
            assertEquals(200, served.statusCode(), served.asString());
            UUID generation = UUID.fromString(served.<String>path("id").substring("gen-".length()));
            int promptTokens = served.path("usage.prompt_tokens");
            int completionTokens = served.path("usage.completion_tokens");
            // 100 USD per million prompt tokens is 100,000 nano-USD a token, 200 per million completion tokens 200,000.
            costNanoUsd = promptTokens * 100_000L + completionTokens * 200_000L;
            assertEquals(costNanoUsd, Money.parseUsd(served.path("usage.cost"), "cost"));

            byte[] relayed = null;
            List<String> seen = new ArrayList<>();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (relayed == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, byte[]> record : topic.poll(Duration.ofMillis(200))) {
                    String text = new String(record.value(), StandardCharsets.UTF_8);
                    seen.add(text);
                    if (buyer.id().equals(record.key()) && text.contains(generation.toString())) {
                        relayed = record.value();
                    }
                }
            }
            assertNotNull(relayed, "the relay published the request's event; seen: " + seen);

            UsageEvent read = UsageEventCodec.fromCanonicalJson(relayed);
            assertNotNull(read, "the ledger's fast reader takes the relayed bytes: " + new String(relayed, StandardCharsets.UTF_8));
            assertEquals(new String(relayed, StandardCharsets.UTF_8), UsageEventCodec.toJson(read));
            assertEquals(generation, read.eventId());
            assertEquals(UUID.fromString(buyer.id()), read.buyerOrgId());
            assertEquals(costNanoUsd, read.costNanoUsd());
            // The buyer's record of the generation carries the event's own time, so both put it in the same hour.
            String createdAt = as(buyer.key()).queryParam("id", served.<String>path("id")).get("/v1/generation")
                    .then().statusCode(200).extract().path("data.created_at");
            assertEquals(read.occurredAt(), OffsetDateTime.parse(createdAt).toInstant());
        }
        // Settled as a served request is: the buyer pays the cost, the provider gets it less the 5% fee.
        Market.awaitSettled(buyer);
        assertEquals(0, usd("1.00").subtract(usd(Money.formatUsd(costNanoUsd))).compareTo(usd(Market.balance(buyer).get("posted"))));
        Map<String, Object> payable = as(provider.key()).get("/api/balance").then().statusCode(200)
                .extract().jsonPath().getMap("payable");
        assertEquals(0, usd(Money.formatUsd(costNanoUsd - costNanoUsd / 20)).compareTo(usd((String) payable.get("posted"))));
    }
}
