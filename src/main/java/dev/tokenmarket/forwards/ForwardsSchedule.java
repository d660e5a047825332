package dev.tokenmarket.forwards;

import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;

/** Lists instruments ahead, stops trading on time and takes the books nobody owns, on every replica (each step is idempotent). */
@ApplicationScoped
public class ForwardsSchedule {

    @Inject
    Instruments instruments;

    @Inject
    ForwardBooks books;

    @Scheduled(every = "${tokenmarket.forwards.schedule-interval:30s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP)
    void run() {
        instruments.schedule(Instant.now());
        books.adoptOpenBooks();
    }
}
