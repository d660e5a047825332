package dev.tokenmarket.contract;

import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import static io.restassured.RestAssured.given;

/**
 * One HTTP request to an operation, as the contract suite builds and alters it: path parameters, query parameters,
 * headers, and the body as raw text (so that it can be made not JSON), sent without RestAssured's own encoding
 * so that what is tried is exactly what reaches the server.
 */
record Call(String method, String pathTemplate, Map<String, String> path, Map<String, String> query,
            Map<String, String> headers, String contentType, String body) {

    static final String JSON = "application/json";
    /** A header value the sender replaces by a new UUID on every send: each try gets its own Idempotency-Key. */
    static final String FRESH = "(fresh)";

    Call withPath(String name, String value) {
        Map<String, String> changed = new LinkedHashMap<>(path);
        changed.put(name, value);
        return new Call(method, pathTemplate, changed, query, headers, contentType, body);
    }

    Call withQuery(String name, String value) {
        Map<String, String> changed = new LinkedHashMap<>(query);
        if (value == null) {
            changed.remove(name);
        } else {
            changed.put(name, value);
        }
        return new Call(method, pathTemplate, path, changed, headers, contentType, body);
    }

    Call withHeader(String name, String value) {
        Map<String, String> changed = new LinkedHashMap<>(headers);
        if (value == null) {
            changed.remove(name);
        } else {
            changed.put(name, value);
        }
        return new Call(method, pathTemplate, path, query, changed, contentType, body);
    }

    Call withBody(String newContentType, String newBody) {
        return new Call(method, pathTemplate, path, query, headers, newContentType, newBody);
    }

    /** The request's path and query, each value percent-encoded (a NUL becomes %00). */
    String uri() {
        String resolved = pathTemplate;
        for (Map.Entry<String, String> parameter : path.entrySet()) {
            resolved = resolved.replace("{" + parameter.getKey() + "}", encode(parameter.getValue()));
        }
        StringBuilder uri = new StringBuilder(resolved);
        char separator = '?';
        for (Map.Entry<String, String> parameter : query.entrySet()) {
            uri.append(separator).append(encode(parameter.getKey())).append('=').append(encode(parameter.getValue()));
            separator = '&';
        }
        return uri.toString();
    }

    Response send(String key) {
        RequestSpecification spec = given().urlEncodingEnabled(false);
        if (key != null) {
            spec.header("Authorization", "Bearer " + key);
        }
        for (Map.Entry<String, String> header : headers.entrySet()) {
            spec.header(header.getKey(), FRESH.equals(header.getValue()) ? UUID.randomUUID().toString() : header.getValue());
        }
        if (body != null) {
            spec.contentType(contentType).body(body);
        } else {
            // RestAssured would otherwise announce a form body that is not there.
            spec.noContentType();
        }
        return spec.request(method, uri());
    }

    @Override
    public String toString() {
        return method + " " + uri() + (body == null ? "" : " [" + contentType + "] " + abbreviate(body));
    }

    private static String abbreviate(String text) {
        String shown = text.replace("\u0000", "\\u0000");
        return shown.length() <= 200 ? shown : shown.substring(0, 200) + "…(" + text.length() + " chars)";
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
