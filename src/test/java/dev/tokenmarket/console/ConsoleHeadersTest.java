package dev.tokenmarket.console;

import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.endsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the console's responses tell a browser: where the console is, and what its pages may do. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ConsoleHeadersTest {

    @Test
    void shouldServeTheConsoleAndItsChartLibraryWithAStrictPolicyAndTheUsualSecurityHeaders() {
        // Proves the headers on console responses: no inline script, no other origin, no framing, no sniffing.
        for (String path : List.of("/console/", "/console/console.js", "/webjars/echarts/5.3.1/dist/echarts.min.js")) {
            Response r = given().get(path);
            r.then().statusCode(200);
            String policy = r.header("Content-Security-Policy");
            assertTrue(policy != null && policy.contains("script-src 'self';") && policy.contains("default-src 'none'")
                    && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"), path + ": " + policy);
            assertEquals("nosniff", r.header("X-Content-Type-Options"), path);
            assertEquals("DENY", r.header("X-Frame-Options"), path);
            assertEquals("no-referrer", r.header("Referrer-Policy"), path);
        }
        String page = given().get("/console/").asString();
        assertTrue(!page.contains("<script>") && !page.contains("style="), "no inline script or style in the page");
        given().redirects().follow(false).get("/console").then().statusCode(302)
                .header("Location", endsWith("/console/"));
    }
}
