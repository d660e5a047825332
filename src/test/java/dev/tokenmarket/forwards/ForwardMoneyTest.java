package dev.tokenmarket.forwards;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import dev.tokenmarket.platform.KafkaSettings;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.forwards.Forwards.order;
import static dev.tokenmarket.forwards.Forwards.place;
import static dev.tokenmarket.forwards.Forwards.placed;
import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.equalTo;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The platform as central counterparty: buy holds, fill captures, releases, short proceeds and bonds, fees,
 * each balance checked against what this test computes on its own from the fills, fees and bonds.
 */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ForwardMoneyTest {

    static final int MAKER_BPS = 10;
    static final int TAKER_BPS = 20;
    static final int BOND_BPS = 2000;

    @Inject
    KafkaSettings kafka;

    @AfterEach
    void invariantsHold() {
        Market.assertLedgerBalanced();
        as(ADMIN_KEY).get("/api/forwards/verification").then().statusCode(200).body("consistent", equalTo(true));
    }

    static String product() {
        String code = "fwdm" + UUID.randomUUID().toString().substring(0, 8);
        as(ADMIN_KEY).body(Map.of("code", code, "model", code, "tick", "0.01", "price_band", Map.of("min", "0.01", "max", "1000.00"),
                        "maker_fee_bps", MAKER_BPS, "taker_fee_bps", TAKER_BPS, "bond_rate_bps", BOND_BPS, "weights", Map.of("completion", "3")))
                .post("/api/forwards/products").then().statusCode(201);
        return Forwards.hourlyInstrument(code);
    }

    static BigDecimal usd(String v) {
        return new BigDecimal(v);
    }

    /** The oracle's rounding: basis points of a USD amount, half-even to the nano-USD. */
    static BigDecimal bps(BigDecimal amount, int bps) {
        return amount.multiply(BigDecimal.valueOf(bps)).divide(BigDecimal.valueOf(10_000), 9, RoundingMode.HALF_EVEN);
    }

    static BigDecimal notional(long quantity, String price) {
        return usd(price).multiply(BigDecimal.valueOf(quantity));
    }

    /** What a buy of this size holds: notional at its limit plus the higher fee rate on it. */
    static BigDecimal buyHold(long quantity, String limit) {
        return notional(quantity, limit).add(bps(notional(quantity, limit), Math.max(MAKER_BPS, TAKER_BPS)));
    }

    /** What a sell holds: the higher fee rate and the bond on its notional at its limit. */
    static BigDecimal sellHold(long quantity, String limit) {
        return bps(notional(quantity, limit), Math.max(MAKER_BPS, TAKER_BPS)).add(bps(notional(quantity, limit), BOND_BPS));
    }

    static Org funded(String name, String role, String usd) {
        Org org = Market.org(name, role);
        Market.funded(org, usd);
        return org;
    }

    static Map<String, Object> account(Org org, String kind) {
        List<Map<String, Object>> accounts = as(ADMIN_KEY).queryParam("org_id", org.id()).get("/api/ledger/accounts")
                .then().statusCode(200).extract().jsonPath().getList("accounts");
        return accounts.stream().filter(a -> kind.equals(a.get("kind"))).findFirst().orElse(Map.of("balance", "0.00", "held", "0.00"));
    }

    static void assertAccount(Org org, String kind, BigDecimal balance, BigDecimal held, String what) {
        Map<String, Object> a = account(org, kind);
        assertEquals(0, balance.compareTo(usd((String) a.get("balance"))), what + " " + kind + " balance: " + a);
        assertEquals(0, held.compareTo(usd((String) a.get("held"))), what + " " + kind + " held: " + a);
    }

    static BigDecimal forwardFees() {
        return usd(as(ADMIN_KEY).get("/api/ledger/accounts").then().statusCode(200).extract().jsonPath()
                .getString("accounts.find { it.kind == 'forward_fees' }.balance"));
    }

    @Test
    void shouldMoveEveryBalanceExactlyAsTheOracleComputesThroughAChainOfTrades() {
        // Proves the chain: a provider sells short, a trader buys and resells to a buyer at a profit, the provider
        // buys some back; every wallet, escrow, hold and the platform's fees are exactly what this test computes.
        String symbol = product();
        BigDecimal deposit = usd("1000.00");
        Org provider = funded("fwd chain provider", "provider", "1000.00");
        Forwards.endpoint(provider, Forwards.codeOf(symbol), 1_000_000_000);
        Org trader = funded("fwd chain trader", "trader", "1000.00");
        Org buyer = funded("fwd chain buyer", "buyer", "1000.00");
        BigDecimal feesBefore = forwardFees();

        placed(provider, order(symbol, "sell", 10, "10.00"));
        assertAccount(provider, "buyer_wallet", deposit, sellHold(10, "10.00"), "a resting sell holds its fee and bond:");

        place(trader, order(symbol, "buy", 10, "10.50")).then().statusCode(201).body("filled_quantity", equalTo(10));
        BigDecimal n1 = notional(10, "10.00");
        BigDecimal traderWallet = deposit.subtract(n1).subtract(bps(n1, TAKER_BPS));
        BigDecimal providerWallet = deposit.subtract(bps(n1, MAKER_BPS));
        BigDecimal bond = bps(n1, BOND_BPS);
        assertAccount(trader, "buyer_wallet", traderWallet, BigDecimal.ZERO, "the buy paid the trade price, not its limit:");
        assertAccount(provider, "buyer_wallet", providerWallet, bond, "the short's bond stays held:");
        assertAccount(provider, "escrow", n1, n1, "the short's proceeds are held:");

        placed(trader, order(symbol, "sell", 10, "12.00"));
        assertAccount(trader, "buyer_wallet", traderWallet, sellHold(10, "12.00"), "a resting sell holds its fee and bond:");
        place(buyer, order(symbol, "buy", 6, "12.00")).then().statusCode(201).body("filled_quantity", equalTo(6));
        BigDecimal n2 = notional(6, "12.00");
        BigDecimal buyerWallet = deposit.subtract(n2).subtract(bps(n2, TAKER_BPS));
        traderWallet = traderWallet.add(n2).subtract(bps(n2, MAKER_BPS));
        assertAccount(trader, "buyer_wallet", traderWallet, sellHold(4, "12.00"), "selling its long pays the trader at once:");
        place(buyer, order(symbol, "buy", 6, "12.50")).then().statusCode(201).body("filled_quantity", equalTo(4))
                .body("open_quantity", equalTo(2));
        BigDecimal n3 = notional(4, "12.00");
        buyerWallet = buyerWallet.subtract(n3).subtract(bps(n3, TAKER_BPS));
        traderWallet = traderWallet.add(n3).subtract(bps(n3, MAKER_BPS));
        assertAccount(buyer, "buyer_wallet", buyerWallet, buyHold(2, "12.50"), "the rest of the buy holds what 2 more may cost:");
        assertAccount(trader, "buyer_wallet", traderWallet, BigDecimal.ZERO, "the trader is flat and holds nothing:");
        assertEquals(0, deposit.add(n2).add(n3).subtract(n1).subtract(bps(n1, TAKER_BPS)).subtract(bps(n2, MAKER_BPS))
                .subtract(bps(n3, MAKER_BPS)).compareTo(traderWallet), "the trader's profit is the spread less its fees");

        as(buyer.key()).queryParam("instrument", symbol).delete("/api/forwards/orders").then().statusCode(200).body("cancelled", equalTo(1));
        assertAccount(buyer, "buyer_wallet", buyerWallet, BigDecimal.ZERO, "a cancel releases the hold:");
        placed(buyer, order(symbol, "sell", 4, "11.00"));
        place(provider, order(symbol, "buy", 4, "11.00")).then().statusCode(201).body("filled_quantity", equalTo(4));
        BigDecimal n4 = notional(4, "11.00");
        providerWallet = providerWallet.subtract(n4).subtract(bps(n4, TAKER_BPS));
        buyerWallet = buyerWallet.add(n4).subtract(bps(n4, MAKER_BPS));
        BigDecimal proceedsLeft = n1.subtract(n1.multiply(BigDecimal.valueOf(4)).divide(BigDecimal.TEN, 9, RoundingMode.DOWN));
        BigDecimal bondLeft = bond.subtract(bond.multiply(BigDecimal.valueOf(4)).divide(BigDecimal.TEN, 9, RoundingMode.DOWN));
        assertAccount(provider, "buyer_wallet", providerWallet, bondLeft, "buying back 4 of 10 releases 4/10 of the bond:");
        assertAccount(provider, "escrow", n1, proceedsLeft, "and 4/10 of the held proceeds:");
        assertAccount(buyer, "buyer_wallet", buyerWallet, BigDecimal.ZERO, "the buyer sold 4 of its long at once:");

        BigDecimal fees = bps(n1, TAKER_BPS).add(bps(n1, MAKER_BPS)).add(bps(n2, TAKER_BPS)).add(bps(n2, MAKER_BPS))
                .add(bps(n3, TAKER_BPS)).add(bps(n3, MAKER_BPS)).add(bps(n4, TAKER_BPS)).add(bps(n4, MAKER_BPS));
        assertEquals(0, feesBefore.add(fees).compareTo(forwardFees()), "the platform earned exactly the fees");
        as(buyer.key()).get("/api/forwards/instruments/" + symbol + "/book").then().body("open_interest", equalTo(6));
        as(provider.key()).get("/api/forwards/positions").then()
                .body("data.find { it.instrument == '" + symbol + "' }.quantity", equalTo(-6));
    }

    @Test
    void shouldRefuseABuyTheWalletCannotHoldAndReleaseWhatAFillAtABetterPriceDoesNotNeed() {
        // Proves 402 before the book for a buy beyond the balance, and that a partial fill at a better price
        // releases the improvement at once: the hold is always exactly what the open quantity needs.
        String symbol = product();
        Org seller = funded("fwd hold seller", "trader", "1000.00");
        Org poor = funded("fwd hold buyer", "trader", "50.00");
        place(poor, order(symbol, "buy", 5, "10.01")).then().statusCode(402).body("code", equalTo("insufficient_balance"));
        assertAccount(poor, "buyer_wallet", usd("50.00"), BigDecimal.ZERO, "a refused order holds nothing:");
        placed(seller, order(symbol, "sell", 1, "9.00"));
        place(poor, order(symbol, "buy", 4, "10.00")).then().statusCode(201).body("filled_quantity", equalTo(1));
        BigDecimal paid = notional(1, "9.00").add(bps(notional(1, "9.00"), TAKER_BPS));
        assertAccount(poor, "buyer_wallet", usd("50.00").subtract(paid), buyHold(3, "10.00"), "3 left open hold what they need:");
        String ioc = "ioc-" + UUID.randomUUID();
        Map<String, Object> body = Forwards.with(Forwards.with(order(symbol, "buy", 1, "10.00"), "time_in_force", "ioc"), "client_order_id", ioc);
        place(poor, body).then().statusCode(201).body("status", equalTo("cancelled"));
        assertAccount(poor, "buyer_wallet", usd("50.00").subtract(paid), buyHold(3, "10.00"), "an IOC that found nothing released its hold:");
    }

    @Test
    void shouldAmendUpWhenTheWalletCoversTheIncreaseAndHoldExactlyWhatTheNewOrderNeeds() {
        // Proves an amendment up needs only its increase available (the old hold is replaced in the same step),
        // one beyond it is 402 and changes nothing, and the hold is then exactly what the new order needs.
        String symbol = product();
        Org trader = funded("fwd amend up", "trader", "100.00");
        String bid = placed(trader, order(symbol, "buy", 5, "10.00"));
        assertAccount(trader, "buyer_wallet", usd("100.00"), buyHold(5, "10.00"), "a bid holds its worst cost:");
        // 90.18 needed, 50.10 held, 49.90 available: the increase of 40.08 fits.
        as(trader.key()).body(Map.of("quantity", 9)).patch("/api/forwards/orders/" + bid).then().statusCode(200)
                .body("open_quantity", equalTo(9));
        assertAccount(trader, "buyer_wallet", usd("100.00"), buyHold(9, "10.00"), "amended up, it holds the new need:");
        // 100.20 needed, 90.18 held, 9.82 available: the increase of 10.02 does not.
        as(trader.key()).body(Map.of("quantity", 10)).patch("/api/forwards/orders/" + bid).then().statusCode(402)
                .body("code", equalTo("insufficient_balance"));
        as(trader.key()).get("/api/forwards/orders/" + bid).then().body("open_quantity", equalTo(9)).body("price", equalTo("10.00"));
        assertAccount(trader, "buyer_wallet", usd("100.00"), buyHold(9, "10.00"), "a refused amendment changes nothing:");
        as(trader.key()).body(Map.of("price", "11.00")).patch("/api/forwards/orders/" + bid).then().statusCode(200);
        assertAccount(trader, "buyer_wallet", usd("100.00"), buyHold(9, "11.00"), "a higher price holds its notional and fee:");
    }

    @Test
    void shouldChargeASellThatTradesAboveItsLimitItsFeeAndBondAtTheTradePrice() {
        // Proves a sell that meets a higher bid pays its taker fee and holds its short's bond on the trade's
        // notional, not its limit's (its hold was taken at the best bid), and what it rests holds at its limit.
        String symbol = product();
        Org bidder = funded("fwd high bid", "trader", "1000.00");
        Org seller = funded("fwd low ask", "trader", "1000.00");
        placed(bidder, order(symbol, "buy", 2, "10.00"));
        place(seller, order(symbol, "sell", 3, "9.00")).then().statusCode(201).body("filled_quantity", equalTo(2));
        BigDecimal n = notional(2, "10.00");
        assertAccount(seller, "buyer_wallet", usd("1000.00").subtract(bps(n, TAKER_BPS)), bps(n, BOND_BPS).add(sellHold(1, "9.00")),
                "the fill's fee and bond at 10.00, the resting 1 at its 9.00:");
        assertAccount(seller, "escrow", n, n, "the short's proceeds are held:");
        assertAccount(bidder, "buyer_wallet", usd("1000.00").subtract(n).subtract(bps(n, MAKER_BPS)), BigDecimal.ZERO,
                "the bid paid 10.00 and its maker fee:");
    }

    @Test
    void shouldPublishEveryTradeOnceOnKafkaKeyedByItsInstrument() {
        // Proves each fill is an event on tokenmarket.forwards.trades.v1, keyed by instrument, with its money.
        String symbol = product();
        Org seller = funded("fwd kafka seller", "trader", "1000.00");
        Org buyer = funded("fwd kafka buyer", "trader", "1000.00");
        placed(seller, order(symbol, "sell", 2, "5.00"));
        placed(seller, order(symbol, "sell", 3, "5.10"));
        List<String> tradeIds = place(buyer, order(symbol, "buy", 5, "5.10")).then().statusCode(201).extract().jsonPath()
                .getList("fills.trade_id");
        List<ConsumerRecord<String, String>> found = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ConsumerConfig.GROUP_ID_CONFIG, "forward-trades-test-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"), new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(TradePublisher.TOPIC));
            await().atMost(Duration.ofSeconds(30)).until(() -> {
                consumer.poll(Duration.ofMillis(200)).forEach(r -> {
                    if (symbol.equals(r.key())) {
                        found.add(r);
                    }
                });
                return found.size() >= 2;
            });
        }
        assertEquals(2, found.size(), "one event per trade");
        for (int i = 0; i < 2; i++) {
            assertTrue(found.get(i).value().contains("\"trade_id\":\"" + tradeIds.get(i) + "\""), found.get(i).value());
        }
        assertTrue(found.get(0).value().contains("\"price\":\"5.00\"") && found.get(0).value().contains("\"buyer_fee\":\"0.02\""),
                "2 x 5.00 at 20 bps taker: " + found.get(0).value());
        assertTrue(found.get(1).value().contains("\"seller_fee\":\"0.0153\""), "3 x 5.10 at 10 bps maker: " + found.get(1).value());
    }

    @Test
    void shouldExpireAGtdOrderOnTimeAndReleaseItsHold() {
        // Proves a GTD order leaves the book at its expiry without any request (the book's owner journals the
        // expiry) and its hold is released in that same transaction.
        String symbol = product();
        Org buyer = funded("fwd gtd buyer", "trader", "100.00");
        String expiresAt = java.time.Instant.now().plusSeconds(2).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).plusSeconds(1).toString();
        String id = placed(buyer, Forwards.with(Forwards.with(order(symbol, "buy", 2, "10.00"), "time_in_force", "gtd"), "expires_at", expiresAt));
        assertAccount(buyer, "buyer_wallet", usd("100.00"), buyHold(2, "10.00"), "a resting GTD holds what it needs:");
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() ->
                "cancelled".equals(as(buyer.key()).get("/api/forwards/orders/" + id).then().extract().path("status")));
        as(buyer.key()).get("/api/forwards/orders/" + id).then().body("reason", equalTo("expired"));
        assertAccount(buyer, "buyer_wallet", usd("100.00"), BigDecimal.ZERO, "the expiry released the hold:");
    }
}
