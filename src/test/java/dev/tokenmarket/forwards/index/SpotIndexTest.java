package dev.tokenmarket.forwards.index;

import dev.tokenmarket.platform.KafkaSettings;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TestUpstream;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The hourly spot index, end to end: sales served through the gateway by a real OpenAI-compatible upstream,
 * metered and settled by the ledger, then published at the times the test chooses (it calls the publisher
 * with an instant; nothing waits for the clock). Each test has a model of its own, so no other test's sales
 * count. The test profile lowers the minimum from 10M standard tokens to 200: the reference engine's
 * generations are a few dozen tokens each.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class SpotIndexTest {

    private static TestUpstream upstream;

    @Inject
    IndexPublisher publisher;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    KafkaSettings kafka;

    /** Endpoints listed by the test, with their provider, taken off the shared catalog afterwards. */
    private final List<String[]> listed = new ArrayList<>();

    @BeforeAll
    static void startUpstream() throws Exception {
        upstream = new TestUpstream();
        // Its first request loads the upstream's model, which on a loaded machine takes longer than the test
        // profile's 2 s first-byte timeout: load it here, straight from the upstream.
        java.net.http.HttpResponse<String> warm = java.net.http.HttpClient.newHttpClient().send(
                java.net.http.HttpRequest.newBuilder(java.net.URI.create(upstream.url() + "/completions"))
                        .header("Content-Type", "application/json")
                        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
                                "{\"model\":\"stories260k\",\"prompt\":\"Tim\",\"max_tokens\":4}")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, warm.statusCode(), warm.body());
    }

    @AfterAll
    static void stopUpstream() {
        upstream.close();
    }

    @AfterEach
    void delist() {
        listed.forEach(e -> as(e[1]).delete("/api/endpoints/" + e[0]));
        Market.assertLedgerBalanced();
    }

    /** One settled sale as the buyer saw it: tokens, cost, and when it was metered. */
    record Sale(UUID id, Org buyer, Org provider, int promptTokens, int completionTokens, long costNanoUsd,
                Instant meteredAt) {
        long standardTokens() {
            return promptTokens + completionTokens;
        }
    }

    /** A provider with one endpoint of the test's model at one price (prompt and completion alike). */
    record Seller(Org org, String endpointId, String price) {
    }

    private static String modelNamed(String what) {
        return "index-" + what + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private Seller seller(String model, String price) {
        Org org = Market.org("index provider", "provider");
        String id = as(org.key()).body(Map.of(
                        "model", model, "hardware", "test cpu", "hardware_class", "cpu", "region", "local",
                        "pricing", Map.of("prompt", price, "completion", price),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                        "backend", Map.of("type", "openai", "url", upstream.url(), "model", "stories260k")))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
        listed.add(new String[] {id, org.key()});
        return new Seller(org, id, price);
    }

    private static List<Org> buyers(int n) {
        List<Org> buyers = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Org buyer = Market.org("index buyer", "buyer");
            Market.funded(buyer, "5.00");
            buyers.add(buyer);
        }
        return buyers;
    }

    private static Sale buy(String model, Org buyer, Seller seller, int maxTokens) {
        Map<String, Object> request = Map.of("model", model, "prompt", "Tim", "max_tokens", maxTokens, "temperature", 0,
                "provider", Market.only(seller.endpointId()));
        // On a loaded shared machine the test upstream can miss the test profile's 2 s first-byte timeout (502), and
        // after three misses the endpoint's circuit opens for 2 s (503); such a request is neither served nor
        // billed, so asking again changes no sale.
        io.restassured.response.Response[] response = new io.restassured.response.Response[1];
        await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(250)).until(() -> {
            response[0] = as(buyer.key()).body(request).post("/v1/completions");
            return response[0].statusCode() != 502 && response[0].statusCode() != 503;
        });
        JsonPath answer = response[0].then().statusCode(200).extract().jsonPath();
        String id = answer.getString("id");
        JsonPath generation = as(buyer.key()).queryParam("id", id).get("/v1/generation").then().statusCode(200)
                .extract().jsonPath();
        return new Sale(UUID.fromString(id.substring("gen-".length())), buyer, seller.org(),
                answer.getInt("usage.prompt_tokens"), answer.getInt("usage.completion_tokens"),
                Money.parseUsd(answer.getString("usage.cost"), "cost"),
                OffsetDateTime.parse(generation.getString("data.created_at")).toInstant());
    }

    /**
     * Every buyer buys once from every seller, the buyers at the same time (each one's purchases one after the
     * other, as its wallet would see them): the sales are what the index reads, not their order.
     */
    private static List<Sale> everyBuyerFromEverySeller(String model, List<Org> buyers, List<Seller> sellers, int maxTokens) {
        try (var pool = Executors.newFixedThreadPool(buyers.size())) {
            List<Future<List<Sale>>> perBuyer = new ArrayList<>();
            for (Org buyer : buyers) {
                perBuyer.add(pool.submit(() -> {
                    List<Sale> sales = new ArrayList<>();
                    for (Seller seller : sellers) {
                        sales.add(buy(model, buyer, seller, maxTokens));
                    }
                    return sales;
                }));
            }
            List<Sale> sales = new ArrayList<>();
            for (var f : perBuyer) {
                sales.addAll(f.get());
            }
            return sales;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof AssertionError a ? a : new AssertionError(e.getCause());
        }
    }

    private static void settled(List<Sale> sales) {
        sales.stream().map(Sale::buyer).distinct().forEach(Market::awaitSettled);
    }

    /** The hour all the sales were metered in; a test whose sales straddle an hour's end starts over. */
    private static Instant hourOf(List<Sale> sales) {
        Instant hour = sales.getFirst().meteredAt().truncatedTo(ChronoUnit.HOURS);
        for (Sale s : sales) {
            if (!s.meteredAt().truncatedTo(ChronoUnit.HOURS).equals(hour)) {
                return null;
            }
        }
        return hour;
    }

    /** Total cost over total ST, per million ST, rounded half-even: the index of sales no cap or outlier touches. */
    private static long average(List<Sale> sales) {
        BigDecimal cost = BigDecimal.ZERO;
        BigDecimal st = BigDecimal.ZERO;
        for (Sale s : sales) {
            cost = cost.add(BigDecimal.valueOf(s.costNanoUsd()));
            st = st.add(BigDecimal.valueOf(s.standardTokens()));
        }
        return cost.multiply(BigDecimal.valueOf(1_000_000)).divide(st, 0, RoundingMode.HALF_EVEN).longValueExact();
    }

    /** {@code share} of the first group's average price plus the rest of the second's, rounded half-even once. */
    private static long blend(BigDecimal share, List<Sale> first, List<Sale> second) {
        return share.multiply(exactAverage(first)).add(BigDecimal.ONE.subtract(share).multiply(exactAverage(second)))
                .setScale(0, RoundingMode.HALF_EVEN).longValueExact();
    }

    private static BigDecimal exactAverage(List<Sale> sales) {
        long cost = sales.stream().mapToLong(Sale::costNanoUsd).sum();
        long st = sales.stream().mapToLong(Sale::standardTokens).sum();
        return BigDecimal.valueOf(cost).multiply(BigDecimal.valueOf(1_000_000)).divide(BigDecimal.valueOf(st), 60, RoundingMode.HALF_EVEN);
    }

    private List<IndexValue> publish(Instant at, String model) {
        return publisher.publishDue(at, List.of(model));
    }

    private static JsonPath values(String model, Instant from, Instant to) {
        return as(ADMIN_KEY).queryParam("from", from.toString()).queryParam("to", to.toString())
                .get("/api/forwards/index/" + model).then().statusCode(200).extract().jsonPath();
    }

    /** The published value of one hour and status, as the API answers it. */
    private static Map<String, Object> value(String model, Instant hour, String status) {
        List<Map<String, Object>> all = values(model, hour, hour.plus(Duration.ofHours(1))).getList("values");
        return all.stream().filter(v -> status.equals(v.get("status"))).findFirst().orElse(null);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> inputs(Map<String, Object> value) {
        return (Map<String, Object>) value.get("inputs");
    }

    @Test
    void aNormalHourIsPublishedProvisionalThenFinalAndFinanceRecomputesIt() throws Exception {
        // Proves an hour of 4 providers and 4 buyers is priced at its sales' ST-weighted average, excluding a sale
        // to oneself, provisional 5 minutes after the hour and final once settled and 60 minutes after it, on the
        // API and on Kafka; that the final never changes; that the recomputation and finance's SQL agree with it.
        String model;
        List<Sale> sales;
        Instant hour;
        do {
            model = modelNamed("normal");
            List<Seller> sellers = List.of(seller(model, "1.00"), seller(model, "1.10"), seller(model, "1.20"), seller(model, "1.30"));
            sales = everyBuyerFromEverySeller(model, buyers(4), sellers, 16);
            Org both = Market.org("self-dealer", "buyer", "provider");
            Market.funded(both, "5.00");
            String own = as(both.key()).body(Map.of(
                            "model", model, "hardware", "test cpu", "hardware_class", "cpu", "region", "local",
                            "pricing", Map.of("prompt", "9.00", "completion", "9.00"),
                            "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                            "capacity", Map.of("tokens_per_minute", 1_000_000, "max_concurrency", 8),
                            "backend", Map.of("type", "openai", "url", upstream.url(), "model", "stories260k")))
                    .post("/api/endpoints").then().statusCode(201).extract().path("id");
            listed.add(new String[] {own, both.key()});
            List<Sale> withSelf = new ArrayList<>(sales);
            withSelf.add(buy(model, both, new Seller(both, own, "9.00"), 16));
            settled(withSelf);
            hour = hourOf(withSelf);
        } while (hour == null);
        Instant end = hour.plus(Duration.ofHours(1));
        long expected = average(sales);

        assertTrue(publish(end.plus(Duration.ofMinutes(4)), model).stream().noneMatch(v -> v.hourStart().equals(end.minus(Duration.ofHours(1)))),
                "nothing for the hour before 5 minutes past its end");
        publish(end.plus(Duration.ofMinutes(5)), model);
        Map<String, Object> provisional = value(model, hour, "provisional");
        assertEquals("spot", provisional.get("rule"));
        assertEquals(Money.formatUsd(expected), provisional.get("price"));
        assertEquals(16, inputs(provisional).get("generations"));
        assertEquals(4, inputs(provisional).get("providers"));
        assertEquals(4, inputs(provisional).get("buyers"));
        assertEquals(String.valueOf(sales.stream().mapToLong(Sale::standardTokens).sum()), inputs(provisional).get("standard_tokens"));
        assertEquals(1, inputs(provisional).get("self_trades_excluded"));
        assertEquals(0, inputs(provisional).get("outliers_dropped"));
        assertEquals(Methodology.VERSION, provisional.get("methodology_version"));

        publish(end.plus(Duration.ofMinutes(59)), model);
        assertNull(value(model, hour, "final"), "no final before 60 minutes past the hour");
        String finalHour = model;
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            publish(end.plus(Duration.ofMinutes(60)), finalHour);
            return value(finalHour, end.minus(Duration.ofHours(1)), "final") != null;
        });
        Map<String, Object> fin = value(model, hour, "final");
        assertEquals(Money.formatUsd(expected), fin.get("price"));
        assertEquals(provisional.get("inputs_sha256"), fin.get("inputs_sha256"));

        // A final never changes: later runs write nothing, and the database refuses an update.
        assertTrue(publish(end.plus(Duration.ofHours(3)), model).stream().noneMatch(v -> v.hourStart().equals(end.minus(Duration.ofHours(1)))));
        assertEquals(fin, value(model, hour, "final"));
        String m = model;
        Instant h = hour;
        SQLException refused = assertThrows(SQLException.class, () -> {
            try (Connection c = dataSource.getConnection();
                 PreparedStatement ps = c.prepareStatement("update forward_index_values set price_nano_usd_per_mst = 1 where model = ? and hour_start = ?")) {
                ps.setString(1, m);
                ps.setTimestamp(2, Timestamp.from(h));
                ps.executeUpdate();
            }
        });
        assertTrue(refused.getMessage().contains("cannot change"), refused.getMessage());

        // Kafka carries both values, keyed by the model.
        publisher.sendUnpublished();
        List<ConsumerRecord<String, String>> records = kafkaValues(model, 2);
        assertTrue(records.get(0).value().contains("\"status\":\"provisional\""), records.get(0).value());
        assertTrue(records.get(1).value().contains("\"status\":\"final\""), records.get(1).value());
        assertTrue(records.get(1).value().contains("\"price\":\"" + Money.formatUsd(expected) + "\""));

        // Finance: the recomputation from the ledger gives the published value...
        as(ADMIN_KEY).queryParam("hour", hour.toString()).get("/api/forwards/index/" + model + "/recomputation")
                .then().statusCode(200).body("matches", equalTo(true))
                .body("recomputed.price", equalTo(Money.formatUsd(expected)))
                .body("published.status", equalTo("final"));
        // ... and so does the documented SQL: the same sales, the same ST and the same digest.
        Map<String, String> sql = financeQuery(model, hour);
        assertEquals(fin.get("inputs_sha256"), sql.get("inputs_sha256"));
        assertEquals("16", sql.get("generations"));
        assertEquals(inputs(fin).get("standard_tokens"), sql.get("standard_tokens"));
        assertEquals(String.valueOf(expected), sql.get("uncapped_price_nano_usd_per_mst"));
    }

    @Test
    void pricesBeyondFiveMadsAreDroppedButNotWhenTheMadIsZero() {
        // Proves the outlier rule: a 20.00 price far from 1.00-1.30 is dropped; among prices mostly equal (MAD zero)
        // the same 20.00 price is kept.
        String model;
        List<Sale> normal;
        List<Sale> outlier;
        Instant hour;
        do {
            model = modelNamed("outlier");
            List<Org> buyers = buyers(4);
            normal = everyBuyerFromEverySeller(model, buyers,
                    List.of(seller(model, "1.00"), seller(model, "1.10"), seller(model, "1.20"), seller(model, "1.30")), 16);
            outlier = List.of(buy(model, buyers.getFirst(), seller(model, "20.00"), 16));
            List<Sale> all = new ArrayList<>(normal);
            all.addAll(outlier);
            settled(all);
            hour = hourOf(all);
        } while (hour == null);
        publish(hour.plus(Duration.ofMinutes(65)), model);
        Map<String, Object> value = value(model, hour, "provisional");
        assertEquals(Money.formatUsd(average(normal)), value.get("price"));
        assertEquals(1, inputs(value).get("outliers_dropped"));
        assertEquals(16, inputs(value).get("generations"));
        assertEquals(17, inputs(value).get("candidates"));

        String flat;
        List<Sale> sales;
        do {
            flat = modelNamed("mad-zero");
            sales = everyBuyerFromEverySeller(flat, buyers(4),
                    List.of(seller(flat, "1.00"), seller(flat, "1.00"), seller(flat, "1.00"), seller(flat, "20.00")), 16);
            settled(sales);
            hour = hourOf(sales);
        } while (hour == null);
        publish(hour.plus(Duration.ofMinutes(65)), flat);
        Map<String, Object> kept = value(flat, hour, "provisional");
        assertEquals("0.00", inputs(kept).get("median_absolute_deviation"));
        assertEquals(0, inputs(kept).get("outliers_dropped"));
        assertEquals(Money.formatUsd(average(sales)), kept.get("price"));
        assertNotEquals("1.00", kept.get("price"));
    }

    @Test
    void noProviderAndNoBuyerCountsForMoreThanThirtyPercent() {
        // Proves each concentration cap: a provider (then a buyer) with about 70% of the ST gets exactly 30% of the
        // weight, the other 70% spread over the rest in proportion to their ST.
        String model;
        List<Sale> heavy;
        List<Sale> rest;
        Instant hour;
        do {
            model = modelNamed("provider-cap");
            List<Org> buyers = buyers(4);
            Seller big = seller(model, "2.00");
            rest = everyBuyerFromEverySeller(model, buyers, List.of(seller(model, "1.00"), seller(model, "1.20"), seller(model, "1.40")), 16);
            heavy = new ArrayList<>(everyBuyerFromEverySeller(model, buyers, List.of(big), 64));
            heavy.addAll(everyBuyerFromEverySeller(model, buyers, List.of(big), 64));
            List<Sale> all = new ArrayList<>(rest);
            all.addAll(heavy);
            settled(all);
            hour = hourOf(all);
        } while (hour == null);
        publish(hour.plus(Duration.ofMinutes(65)), model);
        Map<String, Object> value = value(model, hour, "provisional");
        assertEquals(Money.formatUsd(blend(new BigDecimal("0.3"), heavy, rest)), value.get("price"));
        assertEquals(1, inputs(value).get("providers_capped"));
        assertEquals(0, inputs(value).get("buyers_capped"));

        String byBuyer;
        do {
            byBuyer = modelNamed("buyer-cap");
            List<Seller> sellers = List.of(seller(byBuyer, "1.00"), seller(byBuyer, "1.20"), seller(byBuyer, "1.40"), seller(byBuyer, "2.00"));
            List<Org> buyers = buyers(4);
            Org whale = buyers.getFirst();
            heavy = new ArrayList<>(everyBuyerFromEverySeller(byBuyer, List.of(whale), sellers, 64));
            heavy.addAll(everyBuyerFromEverySeller(byBuyer, List.of(whale), List.of(sellers.get(3)), 32));
            rest = everyBuyerFromEverySeller(byBuyer, buyers.subList(1, 4), sellers, 16);
            List<Sale> all = new ArrayList<>(rest);
            all.addAll(heavy);
            settled(all);
            hour = hourOf(all);
        } while (hour == null);
        publish(hour.plus(Duration.ofMinutes(65)), byBuyer);
        Map<String, Object> capped = value(byBuyer, hour, "provisional");
        assertEquals(1, inputs(capped).get("buyers_capped"));
        assertEquals(true, inputs(capped).get("caps_met"));
        assertEquals(Money.formatUsd(blend(new BigDecimal("0.3"), heavy, rest)), capped.get("price"));
    }

    @Test
    void belowTheMinimumsTheFallbackChainSaysWhichRuleProducedEachValue() {
        // Proves the chain: an hour without sales takes the trailing 24 hours; a day later the active endpoints'
        // list prices; once they are delisted, the previous value; before anything, no value at all.
        String model;
        List<Sale> sales;
        List<Seller> sellers;
        Instant hour;
        do {
            model = modelNamed("fallback");
            sellers = List.of(seller(model, "1.00"), seller(model, "1.10"), seller(model, "1.30"));
            sales = everyBuyerFromEverySeller(model, buyers(3), sellers, 32);
            settled(sales);
            hour = hourOf(sales);
        } while (hour == null);
        Instant end = hour.plus(Duration.ofHours(1));
        String m = model;
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            publish(end.plus(Duration.ofHours(1)).plus(Duration.ofMinutes(61)), m);
            return value(m, end, "final") != null;
        });
        Map<String, Object> spot = value(model, hour, "final");
        assertEquals("spot", spot.get("rule"));
        Map<String, Object> trailing = value(model, end, "final");
        assertEquals("trailing_24h", trailing.get("rule"));
        assertEquals(spot.get("price"), trailing.get("price"), "the trailing day holds exactly the one hour's sales");
        assertEquals(spot.get("inputs_sha256"), trailing.get("inputs_sha256"));
        assertEquals("no settled spot sales", trailing.get("shortfall"));

        Map<String, Object> before = value(model, hour.minus(Duration.ofHours(1)), "provisional");
        assertEquals("none", before.get("rule"), "no sales, no listed endpoint, no previous value");
        assertNull(before.get("price"));

        Instant dayLater = hour.plus(Duration.ofHours(25));
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            publish(dayLater.plus(Duration.ofMinutes(121)), m);
            return value(m, dayLater, "final") != null;
        });
        Map<String, Object> list = value(model, dayLater, "final");
        assertEquals("list_price", list.get("rule"));
        // (1.00 + 1.10 + 1.30) / 3 per million ST, rounded half-even to the nano-USD.
        assertEquals("1.133333333", list.get("price"));
        assertEquals(3, inputs(list).get("endpoints"));

        listed.forEach(e -> as(e[1]).delete("/api/endpoints/" + e[0]));
        Instant delisted = dayLater.plus(Duration.ofHours(1));
        publish(delisted.plus(Duration.ofMinutes(65)), model);
        Map<String, Object> previous = value(model, delisted, "provisional");
        assertEquals("previous", previous.get("rule"));
        assertEquals("1.133333333", previous.get("price"));
        assertEquals(dayLater.toString(), inputs(previous).get("hour_start"));
    }

    @Test
    void usageSettledLateMovesTheFinalAwayFromTheProvisional() {
        // Proves the final waits for settlement: sales settled after the provisional count in the final, which is
        // published only once the ledger caught up, and then no longer changes.
        String model;
        List<Sale> early;
        List<Sale> late;
        Instant hour;
        do {
            model = modelNamed("late");
            List<Org> buyers = buyers(4);
            List<Seller> sellers = List.of(seller(model, "1.00"), seller(model, "1.10"), seller(model, "1.20"), seller(model, "1.30"));
            early = everyBuyerFromEverySeller(model, buyers, sellers, 16);
            settled(early);
            as(ADMIN_KEY).body(Map.of("reason", "index test")).post("/api/ledger/settlement/pause").then().statusCode(200);
            try {
                await().atMost(Duration.ofSeconds(10)).until(() -> {
                    Map<String, Integer> replica = as(ADMIN_KEY).get("/api/ledger/settlement").then().statusCode(200)
                            .extract().path("this_replica");
                    return replica.get("consumers") > 0 && replica.get("consumers_paused").equals(replica.get("consumers"));
                });
                late = List.of(buy(model, buyers.get(0), sellers.get(0), 16), buy(model, buyers.get(1), sellers.get(1), 16));
                List<Sale> all = new ArrayList<>(early);
                all.addAll(late);
                hour = hourOf(all);
                Instant end = hour == null ? null : hour.plus(Duration.ofHours(1));
                if (hour != null) {
                    publish(end.plus(Duration.ofMinutes(5)), model);
                    publish(end.plus(Duration.ofMinutes(90)), model);
                }
            } finally {
                as(ADMIN_KEY).post("/api/ledger/settlement/resume").then().statusCode(200);
            }
        } while (hour == null);
        Map<String, Object> provisional = value(model, hour, "provisional");
        assertEquals(Money.formatUsd(average(early)), provisional.get("price"));
        assertEquals(16, inputs(provisional).get("generations"));
        assertEquals(2, inputs(provisional).get("unsettled"));
        assertNull(value(model, hour, "final"), "no final while settlement lags");

        settled(late);
        List<Sale> all = new ArrayList<>(early);
        all.addAll(late);
        String m = model;
        Instant end = hour.plus(Duration.ofHours(1));
        await().atMost(Duration.ofSeconds(20)).until(() -> {
            publish(end.plus(Duration.ofMinutes(91)), m);
            return value(m, end.minus(Duration.ofHours(1)), "final") != null;
        });
        Map<String, Object> fin = value(model, hour, "final");
        assertEquals(Money.formatUsd(average(all)), fin.get("price"));
        assertEquals(18, inputs(fin).get("generations"));
        assertNotEquals(provisional.get("price"), fin.get("price"));
        assertNotEquals(provisional.get("inputs_sha256"), fin.get("inputs_sha256"));
        publish(end.plus(Duration.ofHours(5)), model);
        assertEquals(fin, value(model, hour, "final"));
    }

    @Test
    void badRequestsAreRefusedWithTheDocumentedErrors() {
        // Proves the API's errors: unknown model, a period backwards, too long or unreadable, no key, wrong role.
        Org buyer = Market.org("index reader", "buyer");
        String model = modelNamed("errors");
        seller(model, "1.00");
        as(buyer.key()).get("/api/forwards/index/no-such-model-" + UUID.randomUUID()).then().statusCode(404)
                .contentType(containsString("application/problem+json")).body("code", equalTo("model_not_found"));
        as(buyer.key()).queryParam("from", "2026-12-02T00:00:00Z").queryParam("to", "2026-12-01T00:00:00Z")
                .get("/api/forwards/index/" + model).then().statusCode(400).body("code", equalTo("invalid_request"))
                .body("detail", containsString("must be after"));
        as(buyer.key()).queryParam("from", "yesterday").get("/api/forwards/index/" + model).then().statusCode(400)
                .body("code", equalTo("invalid_request")).body("detail", containsString("'from' must be an ISO-8601"));
        as(buyer.key()).queryParam("from", "2026-01-01").queryParam("to", "2026-03-01")
                .get("/api/forwards/index/" + model).then().statusCode(400).body("detail", containsString("At most 31 days"));
        io.restassured.RestAssured.given().get("/api/forwards/index/" + model).then().statusCode(401);
        as(buyer.key()).queryParam("hour", "2026-12-01T00:00:00Z").get("/api/forwards/index/" + model + "/recomputation")
                .then().statusCode(403).body("code", equalTo("forbidden"));
        as(ADMIN_KEY).queryParam("hour", "2026-12-01T00:30:00Z").get("/api/forwards/index/" + model + "/recomputation")
                .then().statusCode(400).body("detail", containsString("start of a UTC hour"));
        as(buyer.key()).get("/api/forwards/index/" + model).then().statusCode(200).body("model", equalTo(model));
    }

    private List<ConsumerRecord<String, String>> kafkaValues(String model, int count) {
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "index-test-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(IndexPublisher.TOPIC));
            List<ConsumerRecord<String, String>> found = new ArrayList<>();
            await().atMost(Duration.ofSeconds(20)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    if (model.equals(r.key()) && r.value().contains("\"hour_start\"")) {
                        found.add(r);
                    }
                });
                return found.stream().filter(isOfTheHour()).count() >= count;
            });
            return found.stream().filter(isOfTheHour()).toList();
        }
    }

    /** Values of hours with sales (the publisher also writes the empty hours of its look-back). */
    private static Predicate<ConsumerRecord<String, String>> isOfTheHour() {
        return r -> r.value().contains("\"rule\":\"spot\"");
    }

    /** Runs the finance query of docs/index-methodology.md, as finance would paste it into psql. */
    private Map<String, String> financeQuery(String model, Instant hour) throws Exception {
        String doc = Files.readString(Path.of("docs/index-methodology.md"));
        Matcher block = Pattern.compile("```sql\\n(.*?)```", Pattern.DOTALL).matcher(doc);
        assertTrue(block.find(), "the methodology has a SQL block");
        String sql = block.group(1).replace(":'model'", "?").replace(":'hour'", "?::timestamptz");
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            int n = ps.getParameterMetaData().getParameterCount();
            for (int i = 1; i <= n; i += 2) {
                ps.setString(i, model);
                ps.setString(i + 1, hour.toString());
            }
            try (ResultSet rs = ps.executeQuery()) {
                assertTrue(rs.next());
                Map<String, String> row = new HashMap<>();
                for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
                    row.put(rs.getMetaData().getColumnLabel(i), rs.getString(i));
                }
                return row;
            }
        }
    }
}
