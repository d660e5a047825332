package dev.tokenmarket.forwards;

import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;

/** Lists instruments ahead and stops trading on time, on every replica (each step is idempotent). */
@ApplicationScoped
public class ForwardsSchedule {

    @Inject
    Instruments instruments;

    @Scheduled(every = "${tokenmarket.forwards.schedule-interval:30s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void run() {
        instruments.schedule(Instant.now());
    }
}
