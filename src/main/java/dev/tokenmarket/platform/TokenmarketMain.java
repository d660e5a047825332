package dev.tokenmarket.platform;

import dev.tokenmarket.platform.embedded.EmbeddedInfrastructure;
import dev.tokenmarket.platform.embedded.EmbeddedPolicy;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.annotations.QuarkusMain;

import java.nio.file.Path;

/**
 * Entry point of the packaged application. Before Quarkus reads its configuration, it starts an embedded
 * PostgreSQL and Kafka for whichever of the two is not configured, so one command runs the whole
 * marketplace on a machine that has nothing but a JDK. When both are configured, nothing embedded starts.
 * Under {@code tokenmarket.embedded=never} (the default of the gateway and settlement roles) nothing embedded
 * ever starts, and a server that is missing ends the start with a message saying which setting to fix. A
 * settlement process opens no public HTTP port: only the management interface (health, metrics).
 */
@QuarkusMain
public final class TokenmarketMain {

    public static void main(String... args) throws Exception {
        String jdbcUrl = configured("QUARKUS_DATASOURCE_JDBC_URL", "quarkus.datasource.jdbc.url");
        String kafkaBootstrapServers = configured("KAFKA_BOOTSTRAP_SERVERS", "kafka.bootstrap.servers");
        Role role;
        EmbeddedPolicy embedded;
        try {
            role = Role.parse(configured(Role.ENVIRONMENT_VARIABLE, Role.PROPERTY));
            embedded = EmbeddedPolicy.parse(configured(EmbeddedPolicy.ENVIRONMENT_VARIABLE, EmbeddedPolicy.PROPERTY),
                    role == Role.ALL ? EmbeddedPolicy.AUTO : EmbeddedPolicy.NEVER);
        } catch (IllegalArgumentException e) {
            exit(e.getMessage());
            return;
        }
        String missing = embedded.missing(jdbcUrl, kafkaBootstrapServers);
        if (missing != null) {
            exit(missing);
            return;
        }
        System.setProperty(Role.PROPERTY, role.configName());
        if (!role.servesGateway() && System.getProperty("quarkus.http.host-enabled") == null) {
            System.setProperty("quarkus.http.host-enabled", "false");
        }
        boolean postgresConfigured = jdbcUrl != null;
        boolean kafkaConfigured = kafkaBootstrapServers != null;
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

    /** A setting from a system property or, failing that, the environment; null when neither sets it. */
    private static String configured(String environmentVariable, String property) {
        return firstSet(System.getProperty(property), System.getenv(environmentVariable), null);
    }

    /** Ends the start before anything runs: the operator's mistake, said in one line, not a stack trace. */
    private static void exit(String message) {
        System.err.println(message);
        System.exit(2);
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
