package dev.tokenmarket.platform;

import io.quarkus.scheduler.Scheduled;
import io.quarkus.scheduler.ScheduledExecution;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/** This process's {@link Role}, for the beans whose work depends on it. */
@ApplicationScoped
public class ProcessRole {

    /** gateway, settlement or all (the default: one process does everything, as locally). */
    @ConfigProperty(name = Role.PROPERTY, defaultValue = "all")
    String configured;

    private volatile Role role;

    public Role role() {
        Role r = role;
        if (r == null) {
            r = Role.parse(configured);
            role = r;
        }
        return r;
    }

    public boolean servesGateway() {
        return role().servesGateway();
    }

    public boolean settles() {
        return role().settles();
    }

    /** Skips a scheduled job of the gateway role in a settlement process. */
    @Singleton
    public static class NotGateway implements Scheduled.SkipPredicate {
        @Inject
        ProcessRole role;

        @Override
        public boolean test(ScheduledExecution execution) {
            return !role.servesGateway();
        }
    }

    /** Skips a scheduled job of the settlement role in a gateway process. */
    @Singleton
    public static class NotSettlement implements Scheduled.SkipPredicate {
        @Inject
        ProcessRole role;

        @Override
        public boolean test(ScheduledExecution execution) {
            return !role.settles();
        }
    }
}
