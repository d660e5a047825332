package dev.tokenmarket.platform;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

import java.util.concurrent.TimeUnit;

/**
 * Readiness means "can serve". A gateway serves through a Kafka outage (usage waits in the PostgreSQL outbox
 * and goes out when the broker is back), so there Kafka is reported but never makes the process unready; a
 * settlement process cannot settle without it, so there it does. PostgreSQL is needed by every role: the
 * datasource's own readiness check takes any process out of service when the database is away.
 */
@Readiness
@ApplicationScoped
public class KafkaReadiness implements HealthCheck {

    private static final int TIMEOUT_MS = 2_000;

    @Inject
    KafkaSettings kafka;

    @Inject
    ProcessRole role;

    private Admin admin;

    @Override
    public HealthCheckResponse call() {
        String problem = brokerProblem();
        boolean needed = !role.servesGateway();
        return HealthCheckResponse.named("Kafka (" + role.role().configName() + " role)")
                .status(problem == null || !needed)
                .withData("bootstrap.servers", kafka.bootstrapServers())
                .withData("broker", problem == null ? "reachable" : problem)
                .withData("effect", problem == null ? "none" : needed ? "settlement waits for the broker"
                        : "usage waits in the outbox; requests are served")
                .build();
    }

    private String brokerProblem() {
        try {
            admin().describeCluster(new DescribeClusterOptions().timeoutMs(TIMEOUT_MS)).clusterId()
                    .get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted";
        } catch (Exception e) {
            return "unreachable: " + e.getClass().getSimpleName();
        }
    }

    private synchronized Admin admin() {
        if (admin == null) {
            admin = Admin.create(kafka.admin(java.time.Duration.ofMillis(TIMEOUT_MS)));
        }
        return admin;
    }

    @PreDestroy
    synchronized void close() {
        if (admin != null) {
            admin.close(java.time.Duration.ofSeconds(1));
        }
    }
}
