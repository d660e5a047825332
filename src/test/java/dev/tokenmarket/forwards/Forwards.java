package dev.tokenmarket.forwards;

import dev.tokenmarket.testing.Market.Org;
import io.restassured.response.Response;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;

/** Drives the forward market through its HTTP API, as traders and providers do. */
final class Forwards {

    private Forwards() {
    }

    /** An organization with a key and 10,000 USD in its wallet, for the holds its orders place. */
    static Org funded(String name, String... roles) {
        Org org = dev.tokenmarket.testing.Market.org(name, roles);
        dev.tokenmarket.testing.Market.funded(org, "10000.00");
        return org;
    }

    /**
     * Lists a product of its own (tick 0.01, band 0.01 to 1000 USD per contract) and answers its code, which is
     * also the model it delivers (so that only the endpoints a test creates can deliver it).
     */
    static String product() {
        String code = "fwd" + UUID.randomUUID().toString().substring(0, 8);
        as(ADMIN_KEY).body(Map.of("code", code, "model", code, "tick", "0.01", "lot", 1,
                        "price_band", Map.of("min", "0.01", "max", "1000.00"), "maker_fee_bps", 10, "taker_fee_bps", 20,
                        "weights", Map.of("completion", "3")))
                .post("/api/forwards/products").then().statusCode(201);
        return code;
    }

    /** The symbol of one of the product's trading hourly instruments, about a day ahead. */
    static String hourlyInstrument(String productCode) {
        List<Map<String, Object>> listed = as(ADMIN_KEY).queryParam("product", productCode).queryParam("state", "trading")
                .get("/api/forwards/instruments").then().statusCode(200).extract().jsonPath().getList("data");
        List<Map<String, Object>> hourly = listed.stream().filter(i -> "hour".equals(i.get("window"))).toList();
        return (String) hourly.get(24).get("symbol");
    }

    /** The product code in an instrument's symbol, FWD-<code>-<window>. */
    static String codeOf(String symbol) {
        return symbol.split("-")[1];
    }

    /** Creates an active endpoint of the provider for {@code model} serving {@code tokensPerMinute}: what backs its shorts. */
    static String endpoint(Org provider, String model, int tokensPerMinute) {
        return as(provider.key()).body(Map.of("model", model, "hardware", "h100", "region", "eu",
                        "pricing", Map.of("prompt", "1.00", "completion", "2.00"),
                        "declared", Map.of("throughput_tps", 100, "ttft_ms", 200),
                        "capacity", Map.of("tokens_per_minute", tokensPerMinute, "max_concurrency", 4),
                        "backend", Map.of("type", "openai", "url", "http://127.0.0.1:9/v1")))
                .post("/api/endpoints").then().statusCode(201).extract().path("id");
    }

    /** A funded provider whose endpoint for the product of {@code symbol} backs far more shorts than a test sells. */
    static Org provider(String name, String symbol) {
        Org provider = funded(name, "provider");
        endpoint(provider, codeOf(symbol), 1_000_000_000);
        return provider;
    }

    static Map<String, Object> order(String instrument, String side, long quantity, String price) {
        Map<String, Object> body = new HashMap<>();
        body.put("instrument", instrument);
        body.put("side", side);
        body.put("quantity", quantity);
        body.put("price", price);
        body.put("client_order_id", UUID.randomUUID().toString());
        return body;
    }

    static Map<String, Object> with(Map<String, Object> order, String key, Object value) {
        Map<String, Object> copy = new HashMap<>(order);
        copy.put(key, value);
        return copy;
    }

    static Response place(Org org, Map<String, Object> order) {
        return as(org.key()).body(order).post("/api/forwards/orders");
    }

    /** Places an order that must be accepted and answers its id. */
    static String placed(Org org, Map<String, Object> order) {
        return place(org, order).then().statusCode(201).extract().path("id");
    }
}
