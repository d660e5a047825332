package dev.tokenmarket.forwards;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The books this process owns: one {@link BookEngine} per instrument whose lease it holds. A book is taken
 * on its first command or by the schedule (so that expiries and trading stops happen without traffic), and
 * rebuilt from its journal whenever it is taken.
 */
@ApplicationScoped
public class ForwardBooks {

    private static final Logger LOG = Logger.getLogger(ForwardBooks.class);

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Members members;

    @Inject
    Leases leases;

    @Inject
    ObjectMapper json;

    @Inject
    ForwardsConfig config;

    @Inject
    Instruments instruments;

    @Inject
    Products products;

    @Inject
    dev.tokenmarket.ledger.RestingHolds holds;

    @Inject
    dev.tokenmarket.ledger.LedgerAccounts accounts;

    /** This process's name in the leases: a restarted process is a new owner and waits for its old leases to expire. */
    final String processOwner = "pid-" + ProcessHandle.current().pid() + "-" + UUID.randomUUID();
    private final Map<Long, BookEngine> engines = new ConcurrentHashMap<>();

    /** The running engine of {@code instrument}, taking its lease when free; 503 when another process owns it. */
    BookEngine engineFor(Instrument instrument) {
        BookEngine engine = engines.get(instrument.id());
        if (engine != null && engine.running()) {
            return engine;
        }
        synchronized (this) {
            engine = engines.get(instrument.id());
            if (engine != null && engine.running()) {
                return engine;
            }
            long token = leases.acquire(instrument.id(), processOwner, config.leaseTtl());
            if (token == 0) {
                throw new ApiException(ErrorCode.INSTRUMENT_OWNED_ELSEWHERE, "Another process owns the book of "
                        + instrument.symbol() + "; retry (after a failover the book moves here within " + config.leaseTtl().toSeconds() + " s).");
            }
            BookEngine[] started = new BookEngine[1];
            Product product = products.byId(instrument.productId());
            started[0] = new BookEngine(instrument, token, processOwner, dataSource, members, leases, json, config,
                    () -> new Clearing(instrument, product, holds, accounts), () -> engines.remove(instrument.id(), started[0]));
            engines.put(instrument.id(), started[0]);
            return started[0];
        }
    }

    /** Takes every book with resting orders that no process owns (so that their expiries and trading stops happen). */
    void adoptOpenBooks() {
        for (Instrument i : instruments.withOpenOrders(null)) {
            try {
                engineFor(i);
            } catch (ApiException e) {
                // Owned by another replica: it expires and stops that book itself.
            }
        }
    }

    /** Trading stopped: the book cancels its resting orders (journaled like any command) and stops. */
    void onTradingStopped(@Observes Instruments.TradingStopped stopped) {
        try {
            BookEngine engine = engineFor(stopped.instrument());
            engine.submit(() -> new BookEngine.StopTradingRequest(new java.util.concurrent.CompletableFuture<>()))
                    .get(30, TimeUnit.SECONDS);
        } catch (ApiException e) {
            LOG.infof("trading in %s stopped; its owner cancels its resting orders", stopped.instrument().symbol());
        } catch (Exception e) {
            throw new IllegalStateException("could not stop trading in " + stopped.instrument().symbol(), e);
        }
    }

    /** Stops this process's engine of an instrument and gives its lease up (the next command rebuilds the book). */
    void release(long instrumentId) {
        BookEngine engine = engines.remove(instrumentId);
        if (engine != null) {
            engine.stop(true);
        }
    }

    /** The engine of an instrument if this process runs it, else null. */
    BookEngine running(long instrumentId) {
        BookEngine engine = engines.get(instrumentId);
        return engine != null && engine.running() ? engine : null;
    }

    void onShutdown(@Observes ShutdownEvent event) {
        for (Long id : engines.keySet()) {
            release(id);
        }
    }
}
