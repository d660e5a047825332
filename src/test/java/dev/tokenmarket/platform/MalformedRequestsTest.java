package dev.tokenmarket.platform;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.RestAssured;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Requests that are cut short, empty or hold what no field may hold: each gets its answer at once, and changes nothing. */
@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class MalformedRequestsTest {

    /** Longer than the test profile's body deadline (tokenmarket.http.body-timeout), shorter than any hang. */
    private static final int READ_TIMEOUT_MS = 15_000;

    @Test
    void shouldRefuseAnEmptyCompletionBodyAtOnceAsMalformedJson() throws Exception {
        // Proves an empty body, announced by Content-Length: 0 or as a chunked body without chunks, gets 400
        // malformed_json in the OpenAI shape on both completion paths, and holds or bills nothing.
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        for (String path : List.of("/v1/completions", "/v1/chat/completions")) {
            for (String framing : List.of("Content-Length: 0\r\n", "Transfer-Encoding: chunked\r\n")) {
                String body = framing.startsWith("Transfer") ? "0\r\n\r\n" : "";
                RawAnswer answer = exchange(post(path, buyer.key(), framing) + body, false);
                assertEquals(400, answer.status(), path + " with " + framing.strip() + ": " + answer);
                assertTrue(answer.text().contains("\"code\":\"malformed_json\"")
                        && answer.text().contains("\"type\":\"invalid_request_error\""), answer.toString());
            }
        }
        Map<String, String> balance = Market.balance(buyer);
        assertEquals("1.00", balance.get("posted"));
        assertEquals("0.00", balance.get("held"));
    }

    @Test
    void shouldAnswer408AndCloseTheConnectionWhenTheBodyStopsShort() throws Exception {
        // Proves a client that sends its headers and then too little of its body, or none, gets 408 in its
        // path's error shape once the body deadline passes, and its connection closed: on the completion
        // paths (read on the event loop) and on /api, in both the body RESTEasy buffers and the large one
        // it reads on a worker thread.
        Org buyer = Market.org("buyer", "buyer");
        Market.funded(buyer, "1.00");
        String partial = "{\"model\": \"" + Market.MODEL + "\", \"prompt\": \"Tim";
        List<CompletableFuture<RawAnswer>> answers = new ArrayList<>();
        // The requests wait out the deadline together, so the test takes one deadline, not five.
        ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor();
        for (String request : List.of(
                post("/v1/completions", buyer.key(), "Content-Length: 100\r\n") + partial,
                post("/v1/chat/completions", buyer.key(), "Content-Length: 100\r\n"),
                post("/v1/completions", buyer.key(), "Transfer-Encoding: chunked\r\n") + "a\r\n0123456789\r\n",
                post("/api/orgs", Market.ADMIN_KEY, "Content-Length: 100\r\n") + "{\"name\": \"x\"",
                post("/api/orgs", Market.ADMIN_KEY, "Content-Length: 1000000\r\n") + "{\"name\": \"" + "x".repeat(20_000))) {
            answers.add(CompletableFuture.supplyAsync(() -> exchange(request, true), clients));
        }
        clients.close();
        for (CompletableFuture<RawAnswer> future : answers) {
            RawAnswer answer = future.get();
            assertEquals(408, answer.status(), answer.toString());
            assertTrue(answer.text().contains("request_timeout"), answer.toString());
            assertTrue(answer.closed(), "the server closed the connection: " + answer);
        }
        as(buyer.key()).get("/api/balance").then().statusCode(200).body("posted", equalTo("1.00"))
                .body("held", equalTo("0.00"));
    }

    @Test
    void shouldRefuseControlCharactersInPathsAndQueriesAndAnswer404ForAnUnknownAccount() {
        // Proves NUL and other control characters in a path or a query parameter are a 400 naming where they
        // are, on /api as problem details and on /v1 in the OpenAI shape, and that an unknown account is a 404.
        Org finance = Market.org("finance", "finance");
        Org buyer = Market.org("buyer", "buyer");
        for (String path : List.of("/api/ledger/accounts/%00/statement", "/api/ledger/accounts/a%0Ab/statement",
                "/api/endpoints/%7F", "/api/orgs/%00/keys")) {
            as(finance.key()).urlEncodingEnabled(false).get(path).then().statusCode(400)
                    .contentType("application/problem+json")
                    .body("code", equalTo("invalid_request"))
                    .body("field", equalTo("path"));
        }
        as(finance.key()).urlEncodingEnabled(false).get("/api/ledger/accounts/platform:revenue/statement?from=%00")
                .then().statusCode(400).body("code", equalTo("invalid_request")).body("field", equalTo("from"));
        as(buyer.key()).urlEncodingEnabled(false).get("/v1/generation?id=gen-%00").then().statusCode(400)
                .body("error.code", equalTo("invalid_request")).body("error.param", equalTo("id"));
        as(buyer.key()).urlEncodingEnabled(false).get("/v1/models/stories%00/endpoints").then().statusCode(400)
                .body("error.param", equalTo("path"));
        as(finance.key()).get("/api/ledger/accounts/no-such-account/statement").then().statusCode(404)
                .body("code", equalTo("not_found"));
        as(finance.key()).get("/api/ledger/accounts/999999999999/statement").then().statusCode(404)
                .body("code", equalTo("not_found"));
    }

    @Test
    void shouldRefuseAChatMessageWithoutContentAndServeAnEmptyOne() {
        // Proves a message with no content or a null one is a 400 naming messages[i].content, billed nothing,
        // while an explicit "" is served.
        Org provider = Market.org("provider", "provider");
        Org buyer = Market.org("buyer", "buyer");
        String endpointId = Market.endpoint(provider, "0.10", "0.10");
        Market.funded(buyer, "1.00");
        Map<String, Object> nullContent = new HashMap<>();
        nullContent.put("role", "user");
        nullContent.put("content", null);
        List<List<Map<String, Object>>> refused = List.of(
                List.of(Map.of("role", "user")),
                List.of(Map.of("role", "system", "content", "Be brief."), nullContent));
        for (List<Map<String, Object>> messages : refused) {
            int at = messages.size() - 1;
            as(buyer.key()).body(chat(endpointId, messages)).post("/v1/chat/completions").then().statusCode(400)
                    .body("error.code", equalTo("invalid_request"))
                    .body("error.type", equalTo("invalid_request_error"))
                    .body("error.param", equalTo("messages[" + at + "].content"))
                    .body("error.message", containsString("messages[" + at + "].content"));
        }
        Map<String, String> balance = Market.balance(buyer);
        assertEquals("1.00", balance.get("posted"));
        assertEquals("0.00", balance.get("held"));
        as(buyer.key()).body(chat(endpointId, List.of(Map.of("role", "user", "content", ""))))
                .post("/v1/chat/completions").then().statusCode(200)
                .body("usage.completion_tokens", equalTo(1));
    }

    private static Map<String, Object> chat(String endpointId, List<Map<String, Object>> messages) {
        return Map.of("model", Market.MODEL, "messages", messages, "max_tokens", 1, "temperature", 0,
                "provider", Market.only(endpointId));
    }

    private static String post(String path, String key, String framing) {
        return "POST " + path + " HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + key
                + "\r\nContent-Type: application/json\r\n" + framing + "\r\n";
    }

    /** The status line's code, the bytes read, and whether the server closed the connection after them. */
    record RawAnswer(int status, String text, boolean closed) {
    }

    /**
     * Sends the bytes as they are (RestAssured and the JDK's client always send the body they announce) and
     * reads one answer; {@code untilClosed} keeps reading until the server closes the connection.
     */
    private static RawAnswer exchange(String request, boolean untilClosed) {
        try (Socket socket = new Socket("localhost", RestAssured.port)) {
            socket.setSoTimeout(READ_TIMEOUT_MS);
            OutputStream out = socket.getOutputStream();
            out.write(request.getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = socket.getInputStream();
            ByteArrayOutputStream read = new ByteArrayOutputStream();
            byte[] buffer = new byte[8192];
            boolean closed = false;
            while (true) {
                int n = in.read(buffer);
                if (n < 0) {
                    closed = true;
                    break;
                }
                read.write(buffer, 0, n);
                if (!untilClosed && completeAnswer(read.toString(StandardCharsets.UTF_8))) {
                    break;
                }
            }
            String text = read.toString(StandardCharsets.UTF_8);
            int status = text.startsWith("HTTP/1.1 ") ? Integer.parseInt(text.substring(9, 12)) : -1;
            return new RawAnswer(status, text, closed);
        } catch (IOException e) {
            throw new AssertionError("no answer to " + request.lines().findFirst().orElse("") + ": " + e, e);
        }
    }

    /** An answer with a Content-Length body that has all of it. */
    private static boolean completeAnswer(String text) {
        int headEnd = text.indexOf("\r\n\r\n");
        if (headEnd < 0) {
            return false;
        }
        for (String line : text.substring(0, headEnd).split("\r\n")) {
            if (line.regionMatches(true, 0, "content-length:", 0, 15)) {
                return text.length() - headEnd - 4 >= Integer.parseInt(line.substring(15).strip());
            }
        }
        return false;
    }
}
