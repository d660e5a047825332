package dev.tokenmarket.platform;

import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.nio.file.Path;

/**
 * Entry point of the packaged application. Before Quarkus reads its configuration, it starts an embedded
 * PostgreSQL and Kafka for whichever of the two is not configured, so one command runs the whole
 * marketplace on a machine that has nothing but a JDK. When both are configured, nothing embedded starts.
 */
@QuarkusMain
public final class TokenmarketMain {

    public static void main(String... args) throws Exception {
        boolean postgresConfigured = isConfigured("QUARKUS_DATASOURCE_JDBC_URL", "quarkus.datasource.jdbc.url");
        boolean kafkaConfigured = isConfigured("KAFKA_BOOTSTRAP_SERVERS", "kafka.bootstrap.servers");
        Path dataDirectory = Path.of(firstSet(
                System.getProperty("tokenmarket.data-dir"), System.getenv("TOKENMARKET_DATA_DIR"), "data"))
                .toAbsolutePath();
        EmbeddedInfrastructure infrastructure =
                EmbeddedInfrastructure.start(dataDirectory, !postgresConfigured, !kafkaConfigured);
        infrastructure.configuration().forEach(System::setProperty);
        System.setProperty("tokenmarket.data-dir", dataDirectory.toString());
        // PostgreSQL and Kafka stop only after the application has: its Kafka consumers must leave their group
        // and its last transactions commit while both servers still answer, or the next start waits for the
        // group's session timeout before any usage is settled.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            EmbeddedShutdownOrder.awaitApplicationStopped();
            closeQuietly(infrastructure);
        }, "embedded-infra-stop"));
        try {
            Quarkus.run(args);
        } finally {
            closeQuietly(infrastructure);
        }
    }

    private static boolean isConfigured(String environmentVariable, String property) {
        return firstSet(System.getProperty(property), System.getenv(environmentVariable), null) != null;
    }

    private static String firstSet(String a, String b, String fallback) {
        if (a != null && !a.isBlank()) {
            return a;
        }
        if (b != null && !b.isBlank()) {
            return b;
        }
        return fallback;
    }

    private static void closeQuietly(EmbeddedInfrastructure infrastructure) {
        try {
            infrastructure.close();
        } catch (Exception e) {
            System.err.println("embedded infrastructure did not stop cleanly: " + e.getMessage());
        }
    }
}
