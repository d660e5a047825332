package dev.tokenmarket.testing;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import org.testcontainers.kafka.KafkaContainer;
import org.testcontainers.postgresql.PostgreSQLContainer;

import java.util.Map;

/** PostgreSQL and Kafka in containers, for machines with a Docker engine (profile {@code testcontainers}). */
public class TestcontainersInfrastructure implements QuarkusTestResourceLifecycleManager {

    private PostgreSQLContainer postgres;
    private KafkaContainer kafka;

    @Override
    public Map<String, String> start() {
        postgres = new PostgreSQLContainer("postgres:17-alpine").withDatabaseName("tokenmarket");
        kafka = new KafkaContainer("apache/kafka:4.1.1");
        postgres.start();
        kafka.start();
        return Map.of(
                "quarkus.datasource.jdbc.url", postgres.getJdbcUrl(),
                "quarkus.datasource.username", postgres.getUsername(),
                "quarkus.datasource.password", postgres.getPassword(),
                "kafka.bootstrap.servers", kafka.getBootstrapServers());
    }

    @Override
    public void stop() {
        if (kafka != null) {
            kafka.stop();
        }
        if (postgres != null) {
            postgres.stop();
        }
    }
}
