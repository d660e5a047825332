package dev.tokenmarket.platform;

import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Tells the embedded infrastructure's shutdown hook when the application has finished its own shutdown. */
@ApplicationScoped
public class EmbeddedShutdownOrder {

    private static final CountDownLatch APPLICATION_STOPPED = new CountDownLatch(1);
    private static final long WAIT_SECONDS_MAX = 30;

    /** Observed last: every other shutdown observer (consumers, relay) has run. */
    void onShutdown(@Observes @Priority(Integer.MAX_VALUE) ShutdownEvent event) {
        APPLICATION_STOPPED.countDown();
    }

    static void awaitApplicationStopped() {
        try {
            APPLICATION_STOPPED.await(WAIT_SECONDS_MAX, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
