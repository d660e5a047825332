package dev.tokenmarket.platform;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.PrometheusText;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import io.restassured.response.ExtractableResponse;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.URL;
import java.util.Map;

import static dev.tokenmarket.testing.Market.as;
import static dev.tokenmarket.testing.Market.usd;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class MetricsTest {


    /** The management interface's root is /q, so this is its /q/metrics. */
    @TestHTTPResource(value = "/metrics", management = true)
    URL metrics;

    @Test
    void shouldMoveTokenRevenueAndLatencyCountersByWhatAServedRequestBilled() {
        // Proves a served request adds its own tokens, cost, fee and one latency sample to the counters, exactly.
        Org provider = Market.org("metered provider", "provider");
        Org buyer = Market.org("metered buyer", "buyer");
        String endpointId = Market.endpoint(provider, "3.00", "7.00");
        Market.funded(buyer, "1.00");
        String route = "method=\"POST\",route=\"/v1/completions\",status=\"200\"";
        String scrapeBefore = scrape();
        double servedBefore = value(scrapeBefore, "tokenmarket_http_requests_total", route);

        ExtractableResponse<Response> response = as(buyer.key()).body(Market.completion(endpointId, 12))
                .post("/v1/completions").then().statusCode(200).extract();
        String billing = "model=\"" + Market.MODEL + "\",provider=\"" + response.path("provider") + "\"";
        int promptTokens = response.path("usage.prompt_tokens");
        int completionTokens = response.path("usage.completion_tokens");
        // 3 USD and 7 USD per million tokens are 3000 and 7000 nano-USD a token; the fee is 5% of that, half-even.
        long costNanoUsd = promptTokens * 3_000L + completionTokens * 7_000L;
        long feeNanoUsd = BigDecimal.valueOf(costNanoUsd).multiply(BigDecimal.valueOf(500))
                .divide(BigDecimal.valueOf(10_000), 0, RoundingMode.HALF_EVEN).longValueExact();
        assertEquals(usd(response.path("usage.cost")), BigDecimal.valueOf(costNanoUsd, 9).stripTrailingZeros());

        String after = scrape();
        assertEquals(promptTokens, value(after, "tokenmarket_tokens_total", "kind=\"prompt\"," + billing));
        assertEquals(completionTokens, value(after, "tokenmarket_tokens_total", "kind=\"completion\"," + billing));
        assertEquals(costNanoUsd, value(after, "tokenmarket_billed_nano_usd_total", billing));
        assertEquals(feeNanoUsd, value(after, "tokenmarket_platform_revenue_nano_usd_total", billing));
        String endpoint = "endpoint=\"" + endpointId + "\"," + billing;
        assertEquals(1, value(after, "tokenmarket_gateway_added_latency_seconds_count", endpoint));
        assertEquals(1, value(after, "tokenmarket_gateway_time_to_first_token_seconds_count", endpoint));
        assertEquals(1, value(after, "tokenmarket_gateway_added_latency_seconds_bucket", endpoint + ",le=\"+Inf\""));
        assertTrue(value(after, "tokenmarket_gateway_time_to_first_token_seconds_sum", endpoint) > 0);
        assertEquals(servedBefore + 1, value(after, "tokenmarket_http_requests_total", route));
        assertEquals(0, value(after, "tokenmarket_endpoint_circuit_open", "endpoint=\"" + endpointId + "\""));

        // The counters agree with what the ledger settled: the buyer paid the cost, the provider got it less the fee.
        Market.awaitSettled(buyer);
        assertEquals(0, usd("1.00").subtract(BigDecimal.valueOf(costNanoUsd, 9)).compareTo(usd(Market.balance(buyer).get("posted"))));
        Map<String, String> payable = as(provider.key()).get("/api/balance").then().statusCode(200)
                .extract().jsonPath().getMap("payable");
        assertEquals(0, BigDecimal.valueOf(costNanoUsd - feeNanoUsd, 9).compareTo(usd(payable.get("posted"))));
        String settled = scrape();
        assertTrue(value(settled, "tokenmarket_holds_placed_total", "") >= value(scrapeBefore, "tokenmarket_holds_placed_total", "") + 1);
        assertTrue(value(settled, "tokenmarket_holds_captured_total", "") >= value(scrapeBefore, "tokenmarket_holds_captured_total", "") + 1);
        assertTrue(value(settled, "tokenmarket_settlement_batch_size_count", "") > value(scrapeBefore, "tokenmarket_settlement_batch_size_count", ""));
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldCountARefusedRequestUnderItsStableErrorCode() {
        // Proves errors are counted by route and code: an unfunded buyer's 402 and a malformed request's 400.
        Org provider = Market.org("error provider", "provider");
        Org buyer = Market.org("unfunded buyer", "buyer");
        String endpointId = Market.endpoint(provider, "1.00", "1.00");
        String route = "method=\"POST\",route=\"/v1/completions\"";
        String before = scrape();

        as(buyer.key()).body(Market.completion(endpointId, 4)).post("/v1/completions").then().statusCode(402);
        as(buyer.key()).body(Map.of("model", Market.MODEL, "prompt", "Tim", "max_tokens", -1))
                .post("/v1/completions").then().statusCode(400);

        String after = scrape();
        // Labels in the exporter's (alphabetical) order: code, then method and route.
        for (String code : new String[] {"insufficient_balance", "invalid_request"}) {
            String labels = "code=\"" + code + "\"," + route;
            assertEquals(value(before, "tokenmarket_http_errors_total", labels) + 1, value(after, "tokenmarket_http_errors_total", labels), code);
        }
        assertEquals(value(before, "tokenmarket_http_requests_total", route + ",status=\"402\"") + 1,
                value(after, "tokenmarket_http_requests_total", route + ",status=\"402\""));
        // Neither was served: the endpoint has no latency sample.
        assertFalse(after.contains("endpoint=\"" + endpointId + "\""), "a refused request was counted as served");
        Market.assertLedgerBalanced();
    }

    @Test
    void shouldServeThePrometheusTextFormatOnTheManagementPortOnly() {
        // Proves a Prometheus server can scrape the endpoint, and that the public port does not expose it.
        String body = RestAssured.given().header("Accept", PrometheusText.CONTENT_TYPE).get(metrics).then().statusCode(200)
                .contentType(startsWith(PrometheusText.CONTENT_TYPE))
                .body(containsString("# TYPE tokenmarket_holds_placed_total counter"))
                .body(containsString("# TYPE tokenmarket_outbox_backlog_events gauge"))
                .extract().asString();
        for (String line : body.split("\n")) {
            assertTrue(line.startsWith("#") || PrometheusText.SAMPLE.matcher(line).matches(), "not a Prometheus sample line: " + line);
        }
        assertTrue(value(body, "tokenmarket_outbox_oldest_age_seconds", "") >= 0);
        RestAssured.given().get("/q/metrics").then().statusCode(404);
    }

    private String scrape() {
        return PrometheusText.scrape(metrics);
    }

    private static double value(String scrape, String name, String labels) {
        return PrometheusText.value(scrape, name, labels);
    }
}
