package dev.tokenmarket.platform.embedded;

import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Starts what is missing of PostgreSQL and Kafka, each in its own folder under one data directory, and
 * answers the configuration that points the application at them. It is the only code that knows the
 * infrastructure is embedded: everything else sees a JDBC URL and bootstrap servers.
 */
public final class EmbeddedInfrastructure implements AutoCloseable {

    private static final Logger LOG = Logger.getLogger(EmbeddedInfrastructure.class);

    private final EmbeddedPostgresServer postgres;
    private final EmbeddedKafkaBroker kafka;

    private EmbeddedInfrastructure(EmbeddedPostgresServer postgres, EmbeddedKafkaBroker kafka) {
        this.postgres = postgres;
        this.kafka = kafka;
    }

    /**
     * @param startPostgres false when an external PostgreSQL is configured
     * @param startKafka false when external Kafka brokers are configured
     */
    public static EmbeddedInfrastructure start(Path dataDirectory, boolean startPostgres, boolean startKafka)
            throws IOException {
        EmbeddedPostgresServer postgres = null;
        EmbeddedKafkaBroker kafka = null;
        try {
            if (startPostgres) {
                postgres = EmbeddedPostgresServer.start(dataDirectory.resolve("postgres"), 0);
                LOG.infof("embedded PostgreSQL started on port %d, data in %s", postgres.port(),
                        dataDirectory.resolve("postgres"));
            }
            if (startKafka) {
                kafka = EmbeddedKafkaBroker.start(dataDirectory.resolve("kafka"), 0);
                LOG.infof("embedded Kafka broker (KRaft) started at %s, log in %s", kafka.bootstrapServers(),
                        dataDirectory.resolve("kafka"));
            }
        } catch (IOException | RuntimeException e) {
            if (postgres != null) {
                postgres.close();
            }
            throw e;
        }
        return new EmbeddedInfrastructure(postgres, kafka);
    }

    /** Quarkus configuration keys pointing at what was started here. */
    public Map<String, String> configuration() {
        Map<String, String> config = new LinkedHashMap<>();
        if (postgres != null) {
            config.put("quarkus.datasource.jdbc.url", postgres.jdbcUrl());
            config.put("quarkus.datasource.username", EmbeddedPostgresServer.USER);
            config.put("quarkus.datasource.password", "postgres");
        }
        if (kafka != null) {
            config.put("kafka.bootstrap.servers", kafka.bootstrapServers());
        }
        return config;
    }

    public EmbeddedKafkaBroker kafka() {
        return kafka;
    }

    public EmbeddedPostgresServer postgres() {
        return postgres;
    }

    @Override
    public void close() throws IOException {
        if (kafka != null) {
            kafka.close();
        }
        if (postgres != null) {
            postgres.close();
        }
    }
}
