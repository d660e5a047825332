package dev.tokenmarket.testing;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The environment of the JVMs that tests start: what a JVM needs from the caller's shell, and nothing that configures the application. */
class PackagedApplicationTest {

    @Test
    void theCallersApplicationVariablesNeverReachTheStartedApplication() {
        // Proves a user's exported TOKENMARKET_ADMIN_KEY, database URL or broker list cannot change an IT.
        Map<String, String> caller = Map.of("PATH", "/usr/bin", "HOME", "/home/u", "LC_ALL", "C.UTF-8", "TMPDIR", "/tmp",
                "TOKENMARKET_ADMIN_KEY", "from-the-shell", "TOKENMARKET_DATA_DIR", "/elsewhere",
                "QUARKUS_DATASOURCE_JDBC_URL", "jdbc:postgresql://elsewhere/db", "KAFKA_BOOTSTRAP_SERVERS", "elsewhere:9092",
                "QUARKUS_PROFILE", "dev");
        assertEquals(Map.of("PATH", "/usr/bin", "HOME", "/home/u", "LC_ALL", "C.UTF-8", "TMPDIR", "/tmp"),
                PackagedApplication.inheritedEnvironment(caller));
    }
}
