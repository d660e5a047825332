package dev.tokenmarket.forwards;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.PrometheusText;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static dev.tokenmarket.forwards.Forwards.order;
import static dev.tokenmarket.forwards.Forwards.place;
import static dev.tokenmarket.forwards.Forwards.placed;
import static dev.tokenmarket.forwards.Forwards.with;
import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasSize;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Orders through the HTTP API: matching, time in force, idempotent client ids, refusals, amend, cancel and the reads. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ForwardOrdersTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Instruments instruments;

    @Inject
    Products products;

    /** The management interface's root is /q, so this is its /q/metrics. */
    @TestHTTPResource(value = "/metrics", management = true)
    URL metrics;

    long journalLines(String symbol) throws SQLException {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select count(*) from forward_journal j join forward_instruments i"
                     + " on i.id = j.instrument_id where i.symbol = ?")) {
            ps.setString(1, symbol);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    @Test
    void shouldMatchAtTheRestingPriceInPriceTimePriorityAndShowItInEveryRead() {
        // Proves a crossing buy fills against the best asks first at their prices, rests its remainder, and the
        // book, trades, orders, fills, positions and open interest all show exactly that.
        String symbol = Forwards.hourlyInstrument(Forwards.product());
        Org provider = Forwards.provider("fwd seller", symbol);
        Org other = Forwards.funded("fwd seller 2", "trader");
        Org trader = Forwards.funded("fwd buyer", "trader");
        String ask1 = placed(provider, order(symbol, "sell", 3, "10.50"));
        String ask2 = placed(other, order(symbol, "sell", 4, "10.40"));
        placed(provider, order(symbol, "sell", 5, "10.40"));
        JsonPath buy = place(trader, order(symbol, "buy", 13, "10.50")).then().statusCode(201).extract().jsonPath();
        assertEquals("open", buy.getString("status"), buy.prettify());
        assertEquals(12, buy.getLong("filled_quantity"));
        assertEquals(1, buy.getLong("open_quantity"));
        assertEquals(List.of("10.40", "10.40", "10.50"), buy.getList("fills.price"));
        assertEquals(List.of(4, 5, 3), buy.getList("fills.quantity"));
        assertEquals(List.of("taker", "taker", "taker"), buy.getList("fills.liquidity"));

        JsonPath book = as(trader.key()).get("/api/forwards/instruments/" + symbol + "/book").then().statusCode(200).extract().jsonPath();
        assertEquals("10.50", book.getString("best_bid"), "the remainder rests at its limit");
        assertEquals(null, book.getString("best_ask"), "every ask was taken");
        assertEquals("10.50", book.getString("last_price"));
        assertEquals(12, book.getLong("open_interest"));
        assertEquals(1, book.getLong("bids[0].quantity"));
        as(trader.key()).get("/api/forwards/instruments/" + symbol + "/trades").then().statusCode(200)
                .body("data", hasSize(3)).body("data[0].price", equalTo("10.50")).body("data[0].taker_side", equalTo("buy"));

        as(provider.key()).get("/api/forwards/orders/" + ask1).then().statusCode(200)
                .body("status", equalTo("filled")).body("filled_quantity", equalTo(3));
        as(other.key()).get("/api/forwards/orders/" + ask2).then().statusCode(200).body("status", equalTo("filled"));
        as(trader.key()).get("/api/forwards/orders/" + ask1).then().statusCode(403).body("code", equalTo("forbidden"));
        List<Map<String, Object>> fills = as(provider.key()).queryParam("instrument", symbol).get("/api/forwards/fills")
                .then().statusCode(200).extract().jsonPath().getList("data");
        assertEquals(List.of("maker", "maker"), fills.stream().map(f -> f.get("liquidity")).toList());
        assertEquals(List.of("10.50", "10.40"), fills.stream().map(f -> f.get("price")).toList());
        JsonPath positions = as(trader.key()).get("/api/forwards/positions").then().statusCode(200).extract().jsonPath();
        String mine = "data.find { it.instrument == '" + symbol + "' }";
        assertEquals(12, positions.getLong(mine + ".quantity"));
        assertEquals("long", positions.getString(mine + ".side"));
        assertEquals("125.10", positions.getString(mine + ".bought_notional"), "9 x 10.40 + 3 x 10.50");
        JsonPath providerPositions = as(provider.key()).get("/api/forwards/positions").then().statusCode(200).extract().jsonPath();
        assertEquals(-8, providerPositions.getLong(mine + ".quantity"));
        List<Map<String, Object>> own = as(trader.key()).queryParam("instrument", symbol).queryParam("status", "open")
                .get("/api/forwards/orders").then().statusCode(200).extract().jsonPath().getList("data");
        assertEquals(1, own.size());
    }

    @Test
    void shouldAnswerARetryWithTheFirstResultAndRefuseTheSameClientIdForAnotherOrder() throws SQLException {
        // Proves client_order_id idempotency: the same body answers the first result without reaching the book
        // again; another body under the same id is a 409 idempotency_conflict that changes nothing.
        String symbol = Forwards.hourlyInstrument(Forwards.product());
        Org maker = Forwards.funded("fwd maker", "trader");
        Org taker = Forwards.funded("fwd taker", "trader");
        placed(maker, order(symbol, "sell", 2, "5.00"));
        Map<String, Object> buy = order(symbol, "buy", 5, "5.00");
        JsonPath first = place(taker, buy).then().statusCode(201).extract().jsonPath();
        long lines = journalLines(symbol);
        placed(maker, order(symbol, "sell", 7, "5.00"));
        JsonPath again = place(taker, buy).then().statusCode(201).extract().jsonPath();
        assertEquals(first.prettify(), again.prettify(), "the first answer, though the order has filled since");
        assertEquals(2, again.getLong("filled_quantity"));
        assertEquals(lines + 1, journalLines(symbol), "only the new ask was journaled");
        place(taker, with(buy, "quantity", 6)).then().statusCode(409).body("code", equalTo("idempotency_conflict"))
                .body("field", equalTo("client_order_id"));
        assertEquals(lines + 1, journalLines(symbol));
        as(taker.key()).get("/api/forwards/orders/" + first.getString("id")).then().statusCode(200)
                .body("filled_quantity", equalTo(5)).body("status", equalTo("filled"));
    }

    @Test
    void shouldRefuseOrdersOffTheTickOutsideTheBandOrOnAStoppedInstrumentWithStableCodes() throws SQLException {
        // Proves each refusal has its status, code and field, and none reaches the journal.
        String code = Forwards.product();
        String symbol = Forwards.hourlyInstrument(code);
        Org trader = Forwards.funded("fwd refused", "trader");
        placed(trader, order(symbol, "sell", 1, "20.00"));
        long lines = journalLines(symbol);
        place(trader, order(symbol, "buy", 1, "10.005")).then().statusCode(400).body("code", equalTo("not_on_tick")).body("field", equalTo("price"));
        place(trader, order(symbol, "buy", 1, "1000.01")).then().statusCode(400).body("code", equalTo("price_out_of_band"));
        place(trader, order(symbol, "buy", 0, "10.00")).then().statusCode(400).body("field", equalTo("quantity"));
        place(trader, order(symbol, "buy", 100_001, "10.00")).then().statusCode(400).body("code", equalTo("quantity_above_limit"));
        place(trader, order(symbol, "hold", 1, "10.00")).then().statusCode(400).body("field", equalTo("side"));
        place(trader, with(order(symbol, "buy", 1, "10.00"), "time_in_force", "gtd")).then().statusCode(400).body("field", equalTo("expires_at"));
        place(trader, with(with(order(symbol, "buy", 1, "10.00"), "post_only", true), "time_in_force", "ioc"))
                .then().statusCode(400).body("field", equalTo("post_only"));
        place(trader, order("FWD-none-2026-01-01T00", "buy", 1, "10.00")).then().statusCode(404);
        Org buyerOnly = Market.org("fwd finance", "finance");
        place(buyerOnly, order(symbol, "buy", 1, "10.00")).then().statusCode(403);
        assertEquals(lines, journalLines(symbol));
        Org other = Forwards.funded("fwd post only", "trader");
        place(other, with(order(symbol, "buy", 1, "20.00"), "post_only", true)).then().statusCode(409).body("code", equalTo("would_cross"));
        as(ADMIN_KEY).post("/api/forwards/instruments/" + symbol + "/halt").then().statusCode(200);
        place(other, order(symbol, "buy", 1, "10.00")).then().statusCode(409).body("code", equalTo("instrument_not_trading"));
        as(ADMIN_KEY).post("/api/forwards/instruments/" + symbol + "/resume").then().statusCode(200);
        placed(other, order(symbol, "buy", 1, "10.00"));
    }

    @Test
    void shouldCoverEveryTimeInForceAndSelfTradePreventionThroughTheApi() {
        // Proves IOC cancels its remainder, FOK fills all or nothing, GTD rests with its expiry, and self-trade
        // prevention cancels the incoming remainder by default and the resting order on request.
        String symbol = Forwards.hourlyInstrument(Forwards.product());
        Org a = Forwards.funded("fwd a", "trader");
        Org b = Forwards.funded("fwd b", "trader");
        placed(a, order(symbol, "sell", 2, "7.00"));
        place(b, with(order(symbol, "buy", 5, "7.00"), "time_in_force", "ioc")).then().statusCode(201)
                .body("status", equalTo("cancelled")).body("reason", equalTo("ioc_remainder")).body("filled_quantity", equalTo(2));
        placed(a, order(symbol, "sell", 2, "7.00"));
        place(b, with(order(symbol, "buy", 3, "7.00"), "time_in_force", "fok")).then().statusCode(201)
                .body("status", equalTo("cancelled")).body("reason", equalTo("fok_unfilled")).body("filled_quantity", equalTo(0));
        place(b, with(order(symbol, "buy", 2, "7.00"), "time_in_force", "fok")).then().statusCode(201)
                .body("status", equalTo("filled"));
        String expiry = Instant.now().plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        place(b, with(with(order(symbol, "buy", 1, "6.00"), "time_in_force", "gtd"), "expires_at", expiry)).then().statusCode(201)
                .body("status", equalTo("open")).body("expires_at", equalTo(expiry));
        String ownAsk = placed(a, order(symbol, "sell", 1, "8.00"));
        placed(b, order(symbol, "sell", 1, "8.10"));
        place(a, order(symbol, "buy", 2, "8.10")).then().statusCode(201)
                .body("status", equalTo("cancelled")).body("reason", equalTo("self_trade")).body("filled_quantity", equalTo(0));
        place(a, with(order(symbol, "buy", 2, "8.10"), "self_trade_prevention", "cancel_resting")).then().statusCode(201)
                .body("filled_quantity", equalTo(1)).body("status", equalTo("open"));
        as(a.key()).get("/api/forwards/orders/" + ownAsk).then().body("status", equalTo("cancelled")).body("reason", equalTo("self_trade"));
    }

    @Test
    void shouldKeepPriorityWhenAnAmendReducesAndLoseItWhenItRaisesThenCancelOneAndAll() {
        // Proves amend priority through the API (a taker fills the order ahead in the queue) and both cancels.
        String symbol = Forwards.hourlyInstrument(Forwards.product());
        Org a = Forwards.funded("fwd amend a", "trader");
        Org b = Forwards.funded("fwd amend b", "trader");
        Org taker = Forwards.funded("fwd amend taker", "trader");
        String first = placed(a, order(symbol, "sell", 5, "9.00"));
        String second = placed(b, order(symbol, "sell", 5, "9.00"));
        as(a.key()).body(Map.of("quantity", 4)).patch("/api/forwards/orders/" + first).then().statusCode(200)
                .body("open_quantity", equalTo(4)).body("quantity", equalTo(4));
        place(taker, order(symbol, "buy", 1, "9.00")).then().statusCode(201).body("fills[0].price", equalTo("9.00"));
        as(a.key()).get("/api/forwards/orders/" + first).then().body("open_quantity", equalTo(3));
        as(a.key()).body(Map.of("quantity", 6)).patch("/api/forwards/orders/" + first).then().statusCode(200).body("open_quantity", equalTo(6));
        place(taker, order(symbol, "buy", 1, "9.00")).then().statusCode(201);
        as(b.key()).get("/api/forwards/orders/" + second).then().body("open_quantity", equalTo(4));
        as(b.key()).body(Map.of("price", "9.01")).patch("/api/forwards/orders/" + first).then().statusCode(403)
                .body("code", equalTo("forbidden"));
        as(a.key()).body(Map.of("price", "9.05")).patch("/api/forwards/orders/" + first).then().statusCode(200).body("price", equalTo("9.05"));
        placed(a, order(symbol, "sell", 1, "9.50"));
        as(a.key()).delete("/api/forwards/orders/" + first).then().statusCode(200).body("status", equalTo("cancelled"))
                .body("reason", equalTo("user"));
        as(a.key()).delete("/api/forwards/orders/" + first).then().statusCode(409).body("code", equalTo("order_not_open"));
        as(a.key()).queryParam("instrument", symbol).delete("/api/forwards/orders").then().statusCode(200).body("cancelled", equalTo(1));
        as(a.key()).queryParam("instrument", symbol).queryParam("status", "open").get("/api/forwards/orders")
                .then().body("data", hasSize(0));
    }

    @Test
    void shouldLetOnlyProvidersSellShortWhereTheProductKeepsShortsFromTraders() {
        // Proves trader_shorts_allowed=false: a trader sells only what it holds long, a provider may go short.
        String code = "fwdns" + java.util.UUID.randomUUID().toString().substring(0, 8);
        as(ADMIN_KEY).body(Map.of("code", code, "model", code, "tick", "0.01", "price_band", Map.of("min", "0.01", "max", "100.00"),
                "weights", Map.of("completion", "3"), "trader_shorts_allowed", false)).post("/api/forwards/products").then().statusCode(201);
        String symbol = Forwards.hourlyInstrument(code);
        Org trader = Forwards.funded("fwd no shorts trader", "trader");
        Org provider = Forwards.provider("fwd no shorts provider", symbol);
        Org buyer = Forwards.funded("fwd no shorts buyer", "buyer");
        place(trader, order(symbol, "sell", 1, "5.00")).then().statusCode(409).body("code", equalTo("shorts_not_allowed"));
        place(buyer, order(symbol, "sell", 1, "5.00")).then().statusCode(409).body("code", equalTo("shorts_not_allowed"));
        placed(provider, order(symbol, "sell", 3, "5.00"));
        place(trader, order(symbol, "buy", 2, "5.00")).then().statusCode(201).body("filled_quantity", equalTo(2));
        placed(trader, order(symbol, "sell", 1, "6.00"));
        placed(trader, order(symbol, "sell", 1, "6.00"));
        place(trader, order(symbol, "sell", 1, "6.00")).then().statusCode(409).body("code", equalTo("shorts_not_allowed"));
    }

    @Test
    void shouldCancelRestingOrdersWhenTradingStops() {
        // Proves the trading stop before delivery cancels every resting order, journaled like any command.
        String code = Forwards.product();
        String symbol = Forwards.hourlyInstrument(code);
        Org a = Forwards.funded("fwd stop", "trader");
        String bid = placed(a, order(symbol, "buy", 3, "4.00"));
        Instrument instrument = instruments.bySymbol(symbol);
        instruments.schedule(instrument.tradingStopsAt(), products.byId(instrument.productId()));
        as(a.key()).get("/api/forwards/orders/" + bid).then().body("status", equalTo("cancelled"))
                .body("reason", equalTo("trading_stopped")).body("open_quantity", equalTo(0));
        as(a.key()).get("/api/forwards/instruments/" + symbol).then().body("state", equalTo("delivering"));
        place(a, order(symbol, "buy", 1, "4.00")).then().statusCode(409).body("code", equalTo("instrument_not_trading"));
    }

    @Test
    void shouldCountOrdersFillsOpenInterestAndRestingOrdersInTheMetrics() {
        // Proves the forward market's counters move by exactly what the orders did, and the per-product gauges
        // show the contracts open and the orders resting once they are refreshed.
        String product = Forwards.product();
        String symbol = Forwards.hourlyInstrument(product);
        Org seller = Forwards.provider("metered seller", symbol);
        Org buyer = Forwards.funded("metered buyer", "trader");
        String before = PrometheusText.scrape(metrics);
        placed(seller, order(symbol, "sell", 3, "10.50"));
        placed(seller, order(symbol, "sell", 2, "10.60"));
        // Takes the 3 at 10.50 and the 2 at 10.60 in two fills, and rests its last 1 at 10.60.
        place(buyer, order(symbol, "buy", 6, "10.60")).then().statusCode(201);
        String after = PrometheusText.scrape(metrics);
        assertEquals(3, delta(before, after, "tokenmarket_forward_orders_total"));
        assertEquals(2, delta(before, after, "tokenmarket_forward_fills_total"));
        assertEquals(5, delta(before, after, "tokenmarket_forward_filled_contracts_total"));
        String labels = "product=\"" + product + "\"";
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            String gauges = PrometheusText.scrape(metrics);
            assertEquals(5, PrometheusText.value(gauges, "tokenmarket_forward_open_interest_contracts", labels));
            assertEquals(1, PrometheusText.value(gauges, "tokenmarket_forward_resting_orders", labels));
        });
    }

    private static double delta(String before, String after, String name) {
        return PrometheusText.value(after, name, "") - PrometheusText.value(before, name, "");
    }
}
