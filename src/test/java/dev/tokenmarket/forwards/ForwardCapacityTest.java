package dev.tokenmarket.forwards;

import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.forwards.Forwards.order;
import static dev.tokenmarket.forwards.Forwards.place;
import static dev.tokenmarket.forwards.Forwards.placed;
import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A provider's shorts are limited by what its active endpoints serve in the delivery window. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ForwardCapacityTest {

    /** Weights of the test's products: a cached prompt token counts 0.5 ST, a completion token 2 ST. */
    private static final double WEAKEST_WEIGHT = 0.5;
    private static final long TOKENS_PER_MINUTE = 250_000;
    private static final double FRACTION = 0.80;

    static String product(String model) {
        String code = "fwdc" + UUID.randomUUID().toString().substring(0, 8);
        as(ADMIN_KEY).body(Map.of("code", code, "model", model, "tick", "0.01", "price_band", Map.of("min", "0.01", "max", "100.00"),
                        "weights", Map.of("cached", "0.5", "completion", "2")))
                .post("/api/forwards/products").then().statusCode(201);
        return code;
    }

    /** The product's daily instrument whose day holds {@code hourly}'s delivery hour. */
    static String dayOf(String code, String hourly) {
        List<Map<String, Object>> listed = as(ADMIN_KEY).queryParam("product", code).get("/api/forwards/instruments")
                .then().statusCode(200).extract().jsonPath().getList("data");
        Instant hour = Instant.parse((String) listed.stream().filter(i -> hourly.equals(i.get("symbol"))).findFirst().orElseThrow()
                .get("delivery_start"));
        return (String) listed.stream().filter(i -> "day".equals(i.get("window"))
                        && !Instant.parse((String) i.get("delivery_start")).isAfter(hour) && Instant.parse((String) i.get("delivery_end")).isAfter(hour))
                .findFirst().orElseThrow().get("symbol");
    }

    static void refused(Org provider, Map<String, Object> order) {
        place(provider, order).then().statusCode(409).body("code", equalTo("insufficient_capacity"))
                .body("field", equalTo("quantity")).body("detail", containsString("Add endpoint capacity or sell less"));
    }

    @Test
    void shouldLimitAProvidersShortsToWhatItsEndpointsServeInTheWindowAcrossWindowsAndProducts() {
        // Proves the limit: tokens per minute x 60 x 80% per hour, a contract at the worst case of 1,000,000 ST at
        // the smallest weight, counting resting asks, a daily contract spread over its 24 hours, and the other
        // products the same endpoint delivers.
        String model = "fwdcap" + UUID.randomUUID().toString().substring(0, 8);
        String code = product(model);
        String hour = Forwards.hourlyInstrument(code);
        String day = dayOf(code, hour);
        Org provider = Forwards.funded("fwd capacity provider", "provider");

        // No active endpoint for the product: nothing backs a short.
        refused(provider, order(hour, "sell", 1, "1.00"));

        Forwards.endpoint(provider, model, (int) TOKENS_PER_MINUTE);
        double tokensPerHour = TOKENS_PER_MINUTE * 60 * FRACTION;
        double tokensPerContract = 1_000_000 / WEAKEST_WEIGHT;
        long perHour = (long) Math.floor(tokensPerHour / tokensPerContract);
        assertEquals(6, perHour, "the test's own figure: 12,000,000 tokens an hour, 2,000,000 a contract");

        // Resting asks count: 4 rest, 3 more would make 7 of 6, 2 more make exactly 6.
        placed(provider, order(hour, "sell", 4, "1.00"));
        refused(provider, order(hour, "sell", 3, "1.00"));
        String two = placed(provider, order(hour, "sell", 2, "1.00"));

        // The daily window holds that full hour: any daily contract takes a 24th of its tokens from it.
        refused(provider, order(day, "sell", 1, "1.00"));
        as(provider.key()).delete("/api/forwards/orders/" + two).then().statusCode(200);
        // With 4 in the hour, 2 contracts' tokens are left there: a daily short of 2 x 24 = 48 fits, 49 does not.
        long dailyMax = (long) Math.floor((tokensPerHour - 4 * tokensPerContract) * 24 / tokensPerContract);
        assertEquals(48, dailyMax);
        refused(provider, order(day, "sell", dailyMax + 1, "1.00"));
        placed(provider, order(day, "sell", dailyMax, "1.00"));

        // Another product the same endpoint delivers shares its capacity: its hour is full now.
        String other = product(model);
        String otherHour = hour.replace(code, other);
        refused(provider, order(otherHour, "sell", 1, "1.00"));
        // A trader is not limited by capacity (it has the bond), and a provider's buy never is.
        Org trader = Forwards.funded("fwd capacity trader", "trader");
        placed(trader, order(otherHour, "sell", 1, "1.00"));
        place(provider, order(otherHour, "buy", 1, "1.00")).then().statusCode(201).body("filled_quantity", equalTo(1));
        // Selling the long it just bought closes it: no new short, so no capacity is needed.
        placed(provider, order(otherHour, "sell", 1, "2.00"));
        refused(provider, order(otherHour, "sell", 1, "2.00"));
    }
}
