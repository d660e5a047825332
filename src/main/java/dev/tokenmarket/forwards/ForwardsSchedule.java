package dev.tokenmarket.forwards;

import dev.tokenmarket.platform.ProcessRole;
import io.quarkus.scheduler.Scheduled;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;

/**
 * Lists instruments ahead, stops trading on time and takes the books nobody owns, on every gateway (each step
 * is idempotent). Settlement processes take no book: orders arrive at gateways, and a book owned by a process
 * without the public API would answer every order there with 503 instrument_owned_elsewhere.
 */
@ApplicationScoped
public class ForwardsSchedule {

    @Inject
    Instruments instruments;

    @Inject
    ForwardBooks books;


    @Scheduled(every = "${tokenmarket.forwards.schedule-interval:30s}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP,
            skipExecutionIf = ProcessRole.NotGateway.class)
    void run() {
        instruments.schedule(Instant.now());
        books.adoptOpenBooks();
    }
}
