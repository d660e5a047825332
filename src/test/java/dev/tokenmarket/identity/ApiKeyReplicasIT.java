package dev.tokenmarket.identity;

import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import dev.tokenmarket.testing.PackagedApplication;
import io.restassured.path.json.JsonPath;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two gateway replicas (the packaged application, twice) on one PostgreSQL and one Kafka broker, both
 * running in this test's JVM: what one replica does to a key applies on the other within the stated
 * bound, and a restart with a new TOKENMARKET_ADMIN_KEY refuses the old admin key on both.
 */
class ApiKeyReplicasIT {

    private static final String FIRST_ADMIN_KEY = "replicas-first-admin-key";
    private static final String SECOND_ADMIN_KEY = "replicas-second-admin-key";
    /** What the README promises for revocations, measured from the answer of the replica that revoked. */
    private static final Duration REVOCATION_BOUND = Duration.ofSeconds(5);
    private static final Duration LAST_USED_FLUSH_INTERVAL = Duration.ofSeconds(1);

    @TempDir
    Path dataDirectory;

    private EmbeddedInfrastructure infrastructure;
    private PackagedApplication replicaA;
    private PackagedApplication replicaB;

    @AfterEach
    void stop() throws Exception {
        for (PackagedApplication replica : new PackagedApplication[] {replicaA, replicaB}) {
            if (replica != null) {
                replica.stop();
            }
        }
        if (infrastructure != null) {
            infrastructure.close();
        }
    }

    private PackagedApplication replica(String name, String adminKey) throws Exception {
        Map<String, String> properties = new HashMap<>(infrastructure.configuration());
        properties.put("tokenmarket.identity.last-used-flush-interval", LAST_USED_FLUSH_INTERVAL.toSeconds() + "s");
        return new PackagedApplication(Map.of(
                "TOKENMARKET_DATA_DIR", dataDirectory.resolve(name).toString(),
                "TOKENMARKET_ADMIN_KEY", adminKey,
                // Nothing here runs the model; without a download the start does not wait for a network.
                "TOKENMARKET_MODEL_DOWNLOAD", "false"), properties);
    }

    /**
     * Checks that {@code replica} refuses {@code key} to every request sent {@link #REVOCATION_BOUND} or more
     * after {@code since}, and answers how long after {@code since} the first refused request was sent.
     * Times are taken when requests are sent, not answered: on a machine shared with other builds an answer
     * can take seconds, which says nothing about how long the key stayed valid.
     */
    private static Duration refusedWithinBound(PackagedApplication replica, String key, String reason, Instant since)
            throws InterruptedException {
        Instant bound = since.plus(REVOCATION_BOUND);
        Duration firstRefused = null;
        while (firstRefused == null) {
            Instant sent = Instant.now();
            int status = replica.as(key).get("/api/keys").statusCode();
            if (status == 401) {
                firstRefused = Duration.between(since, sent);
            } else {
                assertEquals(200, status);
                assertTrue(sent.isBefore(bound), "the key was still accepted at " + sent + ", "
                        + Duration.between(since, sent).toMillis() + " ms after " + since);
                Thread.sleep(50);
            }
        }
        Thread.sleep(Math.max(0, Duration.between(Instant.now(), bound).toMillis()));
        replica.as(key).get("/api/keys").then().statusCode(401).body("code", equalTo("invalid_api_key"))
                .body("detail", containsString(reason));
        return firstRefused;
    }

    @Test
    void shouldApplyRevocationRotationLastUseAndANewAdminKeyOnEveryReplicaWithinTheBound() throws Exception {
        // Proves a key revoked or rotated on one replica is refused on the other within 5 s, last use is
        // written in batches that the other replica sees within the flush interval, and a restart with a new
        // admin key refuses the old one on both replicas.
        infrastructure = EmbeddedInfrastructure.start(dataDirectory.resolve("infra"), true, true);
        replicaA = replica("a", FIRST_ADMIN_KEY);
        replicaB = replica("b", FIRST_ADMIN_KEY);
        // One after the other: two starting together on two shared cores can miss the start deadline.
        replicaA.start();
        replicaB.start();
        replicaB.as(FIRST_ADMIN_KEY).get("/api/keys").then().statusCode(200)
                .body("data.findAll { it.name == 'admin (TOKENMARKET_ADMIN_KEY)' }.size()", equalTo(1));

        String orgId = replicaA.as(FIRST_ADMIN_KEY).body(Map.of("name", "replicated buyer", "roles", List.of("buyer")))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        JsonPath leaked = replicaA.as(FIRST_ADMIN_KEY).body(Map.of("name", "leaked")).post("/api/orgs/" + orgId + "/keys")
                .then().statusCode(201).extract().jsonPath();
        JsonPath rotating = replicaA.as(FIRST_ADMIN_KEY).body(Map.of("name", "rotating")).post("/api/orgs/" + orgId + "/keys")
                .then().statusCode(201).extract().jsonPath();

        // Replica B serves both keys, so both are in its cache when A changes them.
        Instant usedOnB = Instant.now();
        replicaB.as(leaked.getString("key")).get("/api/keys").then().statusCode(200);
        replicaB.as(rotating.getString("key")).get("/api/keys").then().statusCode(200);

        // Last use on B reaches A (which never saw the key) through the database within the flush interval.
        Instant seenOnA = null;
        Instant waitUntil = Instant.now().plus(LAST_USED_FLUSH_INTERVAL.multipliedBy(5));
        while (seenOnA == null && Instant.now().isBefore(waitUntil)) {
            String lastUsed = replicaA.as(FIRST_ADMIN_KEY).get("/api/keys/" + leaked.getString("id")).then().statusCode(200)
                    .extract().path("last_used_at");
            seenOnA = lastUsed == null ? null : Instant.parse(lastUsed);
            Thread.sleep(100);
        }
        assertTrue(seenOnA != null && !seenOnA.isBefore(usedOnB.minusSeconds(1)) && seenOnA.isBefore(Instant.now()),
                "replica A shows the use on B: " + seenOnA + " (used at " + usedOnB + ")");

        replicaA.as(leaked.getString("key")).delete("/api/keys/" + leaked.getString("id")).then().statusCode(200)
                .body("status", equalTo("revoked"));
        Instant revoked = Instant.now();
        replicaA.as(leaked.getString("key")).get("/api/keys").then().statusCode(401);
        Duration revocationTook = refusedWithinBound(replicaB, leaked.getString("key"), "revoked", revoked);

        String newSecret = replicaA.as(rotating.getString("key")).body(Map.of("grace_seconds", 0))
                .post("/api/keys/" + rotating.getString("id") + "/rotate").then().statusCode(200).extract().path("key");
        Instant rotated = Instant.now();
        replicaB.as(newSecret).get("/api/keys").then().statusCode(200);
        Duration rotationTook = refusedWithinBound(replicaB, rotating.getString("key"), "rotation", rotated);

        // The operator rotates the admin key: replica A restarts with a new one; B keeps running.
        replicaB.as(FIRST_ADMIN_KEY).get("/api/keys").then().statusCode(200);
        replicaA.stop();
        replicaA = replica("a", SECOND_ADMIN_KEY);
        replicaA.start();
        Instant restarted = Instant.now();
        Duration adminKeyTook = refusedWithinBound(replicaB, FIRST_ADMIN_KEY, "revoked", restarted);
        replicaA.as(FIRST_ADMIN_KEY).get("/api/keys").then().statusCode(401).body("detail", containsString("revoked"));
        replicaA.as(SECOND_ADMIN_KEY).get("/api/keys").then().statusCode(200);
        System.out.printf("replica B's first refusing request was sent: for the revoked key %d ms after the revocation,"
                        + " the replaced secret %d ms after the rotation, the old admin key %d ms after replica A was"
                        + " ready again%n",
                revocationTook.toMillis(), rotationTook.toMillis(), adminKeyTook.toMillis());
        replicaB.as(SECOND_ADMIN_KEY).get("/api/orgs/" + orgId + "/keys").then().statusCode(200)
                .body("data.find { it.id == '" + rotating.getString("id") + "' }.status", equalTo("active"));
        replicaA.as(newSecret).get("/api/keys").then().statusCode(200);
    }
}
