package dev.tokenmarket.catalog;

import jakarta.enterprise.context.ApplicationScoped;

import java.util.concurrent.atomic.AtomicLong;

/** A counter bumped on every endpoint change, so the router knows when its snapshot is stale. */
@ApplicationScoped
public class CatalogChanges {

    private final AtomicLong version = new AtomicLong();

    public void changed() {
        version.incrementAndGet();
    }

    public long version() {
        return version.get();
    }
}
