package dev.tokenmarket.testing;

import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Gives the test suite a real PostgreSQL and a real Kafka broker: the embedded ones (in a fresh temporary
 * data directory), unless test properties name outside servers:
 * {@code -Dtokenmarket.test.jdbc-url=jdbc:postgresql://host/db} (with {@code tokenmarket.test.jdbc-username}
 * and {@code tokenmarket.test.jdbc-password}) and {@code -Dtokenmarket.test.kafka-bootstrap=host:9092}. Only
 * these properties choose: the caller's environment does not (QUARKUS_DATASOURCE_JDBC_URL exported for a
 * local run must not send the suite's writes to that database).
 */
public class TokenmarketInfrastructure implements QuarkusTestResourceLifecycleManager {

    private static final String JDBC_URL_PROPERTY = "tokenmarket.test.jdbc-url";
    private static final String KAFKA_BOOTSTRAP_PROPERTY = "tokenmarket.test.kafka-bootstrap";

    private static EmbeddedInfrastructure infrastructure;

    @Override
    public synchronized Map<String, String> start() {
        String jdbcUrl = System.getProperty(JDBC_URL_PROPERTY);
        String kafkaBootstrap = System.getProperty(KAFKA_BOOTSTRAP_PROPERTY);
        if (infrastructure == null) {
            try {
                Path dataDirectory = Files.createTempDirectory("tokenmarket-test-");
                infrastructure = EmbeddedInfrastructure.start(dataDirectory, jdbcUrl == null, kafkaBootstrap == null);
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
        Map<String, String> config = new LinkedHashMap<>(infrastructure.configuration());
        if (jdbcUrl != null) {
            config.put("quarkus.datasource.jdbc.url", jdbcUrl);
            config.put("quarkus.datasource.username", System.getProperty("tokenmarket.test.jdbc-username", "postgres"));
            config.put("quarkus.datasource.password", System.getProperty("tokenmarket.test.jdbc-password", "postgres"));
        }
        if (kafkaBootstrap != null) {
            config.put("kafka.bootstrap.servers", kafkaBootstrap);
        }
        return config;
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
