package dev.tokenmarket.identity;

import dev.tokenmarket.testing.Market;
import dev.tokenmarket.testing.Market.Org;
import dev.tokenmarket.testing.TokenmarketInfrastructure;
import io.agroal.api.AgroalDataSource;
import io.quarkus.test.common.WithTestResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static dev.tokenmarket.testing.Market.ADMIN_KEY;
import static dev.tokenmarket.testing.Market.as;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
@WithTestResource(TokenmarketInfrastructure.class)
class ApiKeysTest {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    LastUsedRecorder lastUsed;

    private static JsonPath create(String callerKey, String path, Map<String, Object> body) {
        return as(callerKey).body(body).post(path).then().statusCode(201).extract().jsonPath();
    }

    private static List<Map<String, Object>> listed(String callerKey, String path) {
        return as(callerKey).get(path).then().statusCode(200).extract().jsonPath().getList("data");
    }

    private static void assertAccepted(String key) {
        as(key).get("/api/keys").then().statusCode(200);
    }

    private static Response refusedOnApi(String key) {
        Response refused = as(key).get("/api/keys");
        refused.then().statusCode(401).body("code", equalTo("invalid_api_key"));
        return refused;
    }

    @Test
    void shouldLetAnOrganizationCreateAndListItsOwnKeysWithoutEverShowingASecretAgain() {
        // Proves an organization creates keys for itself (label, expiry), and it and the admin list them, secrets never shown.
        Org buyer = Market.org("key owner", "buyer");
        String expiry = OffsetDateTime.now().plusDays(30).truncatedTo(ChronoUnit.SECONDS).toString();
        JsonPath ci = create(buyer.key(), "/api/keys", Map.of("name", "ci", "label", "nightly build", "expires_at", expiry));
        JsonPath batch = create(buyer.key(), "/api/orgs/" + buyer.id() + "/keys", Map.of("name", "batch"));
        assertEquals(buyer.id(), ci.getString("org_id"));
        assertEquals("nightly build", ci.getString("label"));
        assertEquals(OffsetDateTime.parse(expiry).toInstant(), Instant.parse(ci.getString("expires_at")));
        assertTrue(ci.getString("key").startsWith(ci.getString("prefix")), "the prefix is the start of the secret");
        assertAccepted(ci.getString("key"));
        assertAccepted(batch.getString("key"));
        as(ci.getString("key")).body(Map.of("requests_per_minute", 7)).put("/api/keys/" + ci.getString("id") + "/limits")
                .then().statusCode(200);

        List<Map<String, Object>> own = listed(buyer.key(), "/api/keys");
        assertEquals(own, listed(ADMIN_KEY, "/api/orgs/" + buyer.id() + "/keys"), "the admin sees the same list");
        assertEquals(List.of(batch.getString("id"), ci.getString("id"), buyer.keyId()),
                own.stream().map(k -> k.get("id")).toList(), "newest first");
        for (Map<String, Object> key : own) {
            assertFalse(key.containsKey("key"), "no secret in a listing: " + key);
            assertEquals("active", key.get("status"));
        }
        Map<String, Object> listedCi = own.get(1);
        assertEquals("ci", listedCi.get("name"));
        assertEquals("nightly build", listedCi.get("label"));
        assertEquals(ci.getString("prefix"), listedCi.get("prefix"));
        assertEquals(ci.getString("expires_at"), listedCi.get("expires_at"));
        assertEquals(7, ((Map<?, ?>) listedCi.get("limits")).get("requests_per_minute"));
        assertNull(((Map<?, ?>) own.getFirst().get("limits")).get("requests_per_minute"), "a key without limits has none");

        // Two pages of two and one key.
        JsonPath first = as(buyer.key()).queryParam("limit", 2).get("/api/keys").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(batch.getString("id"), ci.getString("id")), first.getList("data.id"));
        assertTrue(first.getBoolean("has_more"));
        JsonPath second = as(buyer.key()).queryParam("limit", 2).queryParam("starting_after", ci.getString("id"))
                .get("/api/keys").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(buyer.keyId()), second.getList("data.id"));
        assertFalse(second.getBoolean("has_more"));
    }

    @Test
    void shouldAnswer403ForAnotherTenantsKeysAndChangeNothing() {
        // Proves no key reads, creates, revokes or rotates another organization's keys, and the victim's key keeps working.
        Org victim = Market.org("victim", "buyer");
        Org intruder = Market.org("intruder", "buyer", "provider", "finance", "trader");
        String victimKey = "/api/keys/" + victim.keyId();
        as(intruder.key()).get(victimKey).then().statusCode(403).body("code", equalTo("forbidden"));
        as(intruder.key()).delete(victimKey).then().statusCode(403).body("code", equalTo("forbidden"));
        as(intruder.key()).body(Map.of("grace_seconds", 0)).post(victimKey + "/rotate").then().statusCode(403)
                .body("code", equalTo("forbidden"));
        as(intruder.key()).get("/api/orgs/" + victim.id() + "/keys").then().statusCode(403).body("code", equalTo("forbidden"));
        as(intruder.key()).body(Map.of("name", "backdoor")).post("/api/orgs/" + victim.id() + "/keys").then().statusCode(403)
                .body("code", equalTo("forbidden"));
        // An organization id that does not exist is, for a non-admin, just another organization's.
        as(intruder.key()).get("/api/orgs/" + UUID.randomUUID() + "/keys").then().statusCode(403);
        as(ADMIN_KEY).get("/api/orgs/" + UUID.randomUUID() + "/keys").then().statusCode(404).body("code", equalTo("not_found"));
        as(intruder.key()).get("/api/keys/" + UUID.randomUUID()).then().statusCode(404).body("code", equalTo("not_found"));
        as(intruder.key()).delete("/api/keys/not-a-uuid").then().statusCode(404).body("code", equalTo("not_found"));

        assertAccepted(victim.key());
        List<Map<String, Object>> keys = listed(victim.key(), "/api/keys");
        assertEquals(1, keys.size(), "no key was added to the victim's organization");
        assertEquals("active", keys.getFirst().get("status"));
        assertNull(keys.getFirst().get("rotated_at"));
    }

    @Test
    void shouldRejectBadInputWithTheDocumentedErrorsAndCreateNothing() {
        // Proves each bad field is a 400 naming it, at once, and no key comes into being.
        Org buyer = Market.org("careless", "buyer");
        String longText = "x".repeat(201);
        assertInvalid(as(buyer.key()).body(Map.of("label", "no name")).post("/api/keys"), "name");
        assertInvalid(as(buyer.key()).body(Map.of("name", " ")).post("/api/keys"), "name");
        assertInvalid(as(buyer.key()).body(Map.of("name", "k", "label", longText)).post("/api/keys"), "label");
        assertInvalid(as(buyer.key()).body(Map.of("name", "k", "expires_at", "tomorrow")).post("/api/keys"), "expires_at");
        assertInvalid(as(buyer.key()).body(Map.of("name", "k", "expires_at", 1893456000)).post("/api/keys"), "expires_at");
        assertInvalid(as(buyer.key()).body(Map.of("name", "k", "expires_at", "2020-01-01T00:00:00Z"))
                .post("/api/orgs/" + buyer.id() + "/keys"), "expires_at");
        String keyPath = "/api/keys/" + buyer.keyId();
        assertInvalid(as(buyer.key()).body(Map.of()).post(keyPath + "/rotate"), "grace_seconds");
        assertInvalid(as(buyer.key()).body(Map.of("grace_seconds", -1)).post(keyPath + "/rotate"), "grace_seconds");
        assertInvalid(as(buyer.key()).body(Map.of("grace_seconds", 86_401)).post(keyPath + "/rotate"), "grace_seconds");
        assertInvalid(as(buyer.key()).body(Map.of("grace_seconds", "soon")).post(keyPath + "/rotate"), "grace_seconds");
        assertInvalid(as(buyer.key()).queryParam("limit", 0).get("/api/keys"), "limit");
        assertInvalid(as(buyer.key()).queryParam("limit", "all").get("/api/keys"), "limit");
        assertInvalid(as(buyer.key()).queryParam("starting_after", "last").get("/api/keys"), "starting_after");
        assertInvalid(as(buyer.key()).queryParam("starting_after", UUID.randomUUID()).get("/api/keys"), "starting_after");
        as(buyer.key()).body("{\"name\":").post("/api/keys").then().statusCode(400).body("code", equalTo("malformed_json"));

        List<Map<String, Object>> keys = listed(buyer.key(), "/api/keys");
        assertEquals(List.of(buyer.keyId()), keys.stream().map(k -> k.get("id")).toList(), "nothing was created");
        assertNull(keys.getFirst().get("rotated_at"), "nothing was rotated");
        assertAccepted(buyer.key());
    }

    private static void assertInvalid(Response response, String field) {
        response.then().statusCode(400).body("code", equalTo("invalid_request")).body("field", equalTo(field))
                .body("detail", containsString(field));
    }

    @Test
    void shouldRefuseARevokedKeyAtOnceOnTheReplicaThatRevokedItAndSaySo() {
        // Proves a revoked key (cached by the replica a moment before) is refused on the next request, on /api and /v1.
        Org buyer = Market.org("leaky", "buyer");
        JsonPath leaked = create(buyer.key(), "/api/keys", Map.of("name", "leaked"));
        String secret = leaked.getString("key");
        assertAccepted(secret);
        as(secret).get("/v1/models").then().statusCode(200);

        String revokedAt = as(buyer.key()).delete("/api/keys/" + leaked.getString("id")).then().statusCode(200)
                .body("status", equalTo("revoked")).extract().path("revoked_at");
        refusedOnApi(secret).then().body("detail", containsString("revoked"));
        as(secret).get("/v1/models").then().statusCode(401).body("error.code", equalTo("invalid_api_key"))
                .body("error.type", equalTo("authentication_error")).body("error.message", containsString("revoked"));
        // Revoking again changes nothing; a revoked key cannot be rotated back to life.
        as(buyer.key()).delete("/api/keys/" + leaked.getString("id")).then().statusCode(200)
                .body("revoked_at", equalTo(revokedAt));
        as(buyer.key()).body(Map.of("grace_seconds", 60)).post("/api/keys/" + leaked.getString("id") + "/rotate")
                .then().statusCode(409).body("code", equalTo("key_not_active"));
        refusedOnApi(secret);
        assertAccepted(buyer.key());
    }

    @Test
    void shouldKeepTheReplacedSecretValidForTheGracePeriodOnlyAndKeepTheKeysIdAndLimits() throws Exception {
        // Proves a rotation gives a new secret, the old one works until the grace period ends, then is refused.
        Org buyer = Market.org("rotating", "buyer");
        String oldSecret = buyer.key();
        as(oldSecret).body(Map.of("tokens_per_minute", 5000)).put("/api/keys/" + buyer.keyId() + "/limits").then().statusCode(200);
        Instant before = Instant.now();
        JsonPath rotated = as(oldSecret).body(Map.of("grace_seconds", 2)).post("/api/keys/" + buyer.keyId() + "/rotate")
                .then().statusCode(200).extract().jsonPath();
        String newSecret = rotated.getString("key");
        assertEquals(buyer.keyId(), rotated.getString("id"), "the key keeps its id");
        assertNotEquals(oldSecret, newSecret);
        Instant graceEnd = Instant.parse(rotated.getString("previous_secret_valid_until"));
        assertTrue(!graceEnd.isBefore(before.plusSeconds(2)) && graceEnd.isBefore(Instant.now().plusSeconds(3)), graceEnd.toString());

        assertAccepted(oldSecret);
        assertAccepted(newSecret);
        as(newSecret).get("/api/keys/" + buyer.keyId() + "/limits").then().statusCode(200).body("tokens_per_minute", equalTo(5000));
        Thread.sleep(Math.max(0, Duration.between(Instant.now(), graceEnd).toMillis() + 50));
        refusedOnApi(oldSecret).then().body("detail", containsString("rotation"));
        assertAccepted(newSecret);

        // Without a grace period, the secret in use is refused at once.
        String newest = as(newSecret).body(Map.of("grace_seconds", 0)).post("/api/keys/" + buyer.keyId() + "/rotate")
                .then().statusCode(200).extract().path("key");
        refusedOnApi(newSecret);
        assertAccepted(newest);
        Map<String, Object> listed = listed(newest, "/api/keys").getFirst();
        assertEquals(buyer.keyId(), listed.get("id"));
        assertEquals("active", listed.get("status"));
        assertEquals(newest.substring(0, 10), listed.get("prefix"));
    }

    @Test
    void shouldRefuseAnExpiredKeyWith401InvalidApiKeySayingItExpired() throws Exception {
        // Proves a key works until its expiry, and from then on every request gets 401 invalid_api_key naming the expiry.
        Org buyer = Market.org("short-lived", "buyer");
        Instant expiry = Instant.now().plusSeconds(2).truncatedTo(ChronoUnit.SECONDS).plusSeconds(1);
        JsonPath temporary = create(buyer.key(), "/api/keys", Map.of("name", "temporary", "expires_at", expiry.toString()));
        String secret = temporary.getString("key");
        assertAccepted(secret);
        Thread.sleep(Math.max(0, Duration.between(Instant.now(), expiry).toMillis() + 50));

        refusedOnApi(secret).then().body("detail", containsString("expired at " + expiry));
        as(secret).get("/v1/models").then().statusCode(401).body("error.code", equalTo("invalid_api_key"))
                .body("error.message", containsString("expired"));
        as(buyer.key()).get("/api/keys/" + temporary.getString("id")).then().statusCode(200)
                .body("status", equalTo("expired")).body("revoked_at", nullValue());
        as(buyer.key()).body(Map.of("grace_seconds", 0)).post("/api/keys/" + temporary.getString("id") + "/rotate")
                .then().statusCode(409).body("code", equalTo("key_not_active"));
    }

    @Test
    void shouldKeepTheLastUsedTimeWithoutADatabaseWritePerRequest() throws Exception {
        // Proves requests only note the time in memory, and one flush writes it for every key used since.
        Org buyer = Market.org("busy", "buyer");
        JsonPath created = create(ADMIN_KEY, "/api/orgs/" + buyer.id() + "/keys", Map.of("name", "second"));
        String second = created.getString("key");
        String secondId = created.getString("id");
        lastUsed.flush();
        assertNull(storedLastUse(buyer.keyId()), "the admin's calls are not the buyer key's use");
        Instant before = Instant.now().truncatedTo(ChronoUnit.MILLIS);
        for (int i = 0; i < 20; i++) {
            assertAccepted(buyer.key());
        }
        assertAccepted(second);
        Instant after = Instant.now();

        assertNull(storedLastUse(buyer.keyId()), "21 requests wrote nothing to the database");
        assertNull(storedLastUse(secondId));
        Instant shown = Instant.parse(as(ADMIN_KEY).get("/api/keys/" + buyer.keyId()).then().statusCode(200)
                .extract().path("last_used_at"));
        assertTrue(!shown.isBefore(before) && !shown.isAfter(after), "the serving replica shows the use at once: " + shown);

        lastUsed.flush();
        Instant stored = storedLastUse(buyer.keyId());
        assertEquals(shown, stored, "the flush wrote the latest use");
        Instant storedSecond = storedLastUse(secondId);
        assertTrue(storedSecond != null && !storedSecond.isBefore(before) && !storedSecond.isAfter(after),
                "the same flush wrote the other key's use: " + storedSecond);
    }

    private Instant storedLastUse(String keyId) throws Exception {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select last_used_at from api_keys where id = ?")) {
            ps.setObject(1, UUID.fromString(keyId));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                OffsetDateTime value = rs.getObject(1, OffsetDateTime.class);
                return value == null ? null : value.toInstant();
            }
        }
    }

    @Test
    void shouldRefuseToRevokeOrRotateTheConfiguredAdminKeyThroughTheApi() {
        // Proves the admin key from TOKENMARKET_ADMIN_KEY changes only with the configuration, so the API cannot lock admins out.
        Map<String, Object> adminKey = listed(ADMIN_KEY, "/api/keys").stream()
                .filter(k -> "test-admin".equals(k.get("prefix"))).findFirst().orElseThrow();
        as(ADMIN_KEY).delete("/api/keys/" + adminKey.get("id")).then().statusCode(409)
                .body("code", equalTo("key_managed_by_configuration")).body("detail", containsString("TOKENMARKET_ADMIN_KEY"));
        as(ADMIN_KEY).body(Map.of("grace_seconds", 0)).post("/api/keys/" + adminKey.get("id") + "/rotate").then().statusCode(409)
                .body("code", equalTo("key_managed_by_configuration"));
        assertAccepted(ADMIN_KEY);
    }
}
