package dev.tokenmarket.testing;

import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Gives the test suite a real PostgreSQL and a real Kafka broker: the embedded ones (in a fresh
 * temporary data directory), unless QUARKUS_DATASOURCE_JDBC_URL / KAFKA_BOOTSTRAP_SERVERS point at
 * existing servers.
 */
public class TokenmarketInfrastructure implements QuarkusTestResourceLifecycleManager {

    private static EmbeddedInfrastructure infrastructure;

    @Override
    public synchronized Map<String, String> start() {
        if (infrastructure == null) {
            boolean postgresConfigured = System.getenv("QUARKUS_DATASOURCE_JDBC_URL") != null;
            boolean kafkaConfigured = System.getenv("KAFKA_BOOTSTRAP_SERVERS") != null;
            try {
                Path dataDirectory = Files.createTempDirectory("tokenmarket-test-");
                infrastructure = EmbeddedInfrastructure.start(dataDirectory, !postgresConfigured, !kafkaConfigured);
                EmbeddedInfrastructure started = infrastructure;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                    try {
                        started.close();
                        // Every run used to leave its 200 MB of database and broker files in the temporary directory.
                        TemporaryDirectories.delete(dataDirectory);
                    } catch (IOException e) {
                        System.err.println("embedded infrastructure did not stop cleanly: " + e.getMessage());
                    }
                }, "test-infra-stop"));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return infrastructure.configuration();
    }

    @Override
    public synchronized void stop() {
        // Kept for the whole JVM: every test class shares one PostgreSQL and one broker, which the shutdown
        // hook registered in start() stops. Restarting them per class would triple the suite's run time.
    }

    /** The embedded infrastructure, for fault tests that stop and restart the broker. */
    public static synchronized EmbeddedInfrastructure embedded() {
        return infrastructure;
    }
}
