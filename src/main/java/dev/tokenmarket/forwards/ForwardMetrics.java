package dev.tokenmarket.forwards;

import dev.tokenmarket.platform.ProcessRole;
import io.agroal.api.AgroalDataSource;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.quarkus.runtime.Startup;
import io.quarkus.scheduler.Scheduled;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;
import org.jboss.logging.Logger;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;

/**
 * The forward market's flow and state: orders accepted onto the books, fills and the contracts they filled
 * (counted by the books' writers as each batch commits, in the process that owns the book), and per product
 * the open interest and the resting orders (read from the database every few seconds by settlement
 * processes, so they are the same on each of them: aggregate them with {@code max}).
 */
@Startup
@Singleton
public class ForwardMetrics {

    private static final Logger LOG = Logger.getLogger(ForwardMetrics.class);
    private static final LongAdder ORDERS = new LongAdder();
    private static final LongAdder FILLS = new LongAdder();
    private static final LongAdder FILLED_CONTRACTS = new LongAdder();

    private final MultiGauge openInterest;
    private final MultiGauge restingOrders;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    public ForwardMetrics(MeterRegistry registry) {
        FunctionCounter.builder("tokenmarket.forward.orders", ORDERS, LongAdder::sum)
                .description("Forward orders accepted and journaled (each placed order once)").register(registry);
        FunctionCounter.builder("tokenmarket.forward.fills", FILLS, LongAdder::sum)
                .description("Forward trades (fills between a taker and a resting order)").register(registry);
        FunctionCounter.builder("tokenmarket.forward.filled.contracts", FILLED_CONTRACTS, LongAdder::sum)
                .description("Contracts traded in forward fills").register(registry);
        openInterest = MultiGauge.builder("tokenmarket.forward.open.interest").baseUnit("contracts")
                .description("Contracts open (long, which equals short) per product, over its unsettled instruments")
                .register(registry);
        restingOrders = MultiGauge.builder("tokenmarket.forward.resting.orders")
                .description("Orders resting on the books per product (book depth in orders)").register(registry);
    }

    /** A book's batch committed: {@code orders} new orders, {@code fills} trades of {@code contracts} in all. */
    static void committed(int orders, int fills, long contracts) {
        ORDERS.add(orders);
        FILLS.add(fills);
        FILLED_CONTRACTS.add(contracts);
    }

    @Scheduled(every = "${tokenmarket.forwards.metrics-interval}", concurrentExecution = Scheduled.ConcurrentExecution.SKIP,
            skipExecutionIf = ProcessRole.NotSettlement.class)
    void refresh() {
        List<MultiGauge.Row<?>> interest = new ArrayList<>();
        List<MultiGauge.Row<?>> resting = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select p.code,
                            coalesce((select sum(greatest(net, 0)) from (
                                select t.org, sum(t.q) as net from (
                                    select tr.instrument_id, tr.buyer_org_id as org, tr.quantity as q from forward_trades tr
                                    union all select tr.instrument_id, tr.seller_org_id, -tr.quantity from forward_trades tr) t
                                join forward_instruments i on i.id = t.instrument_id
                                where i.product_id = p.id and i.state <> 'settled'
                                group by t.instrument_id, t.org) positions), 0),
                            (select count(*) from forward_orders o join forward_instruments i on i.id = o.instrument_id
                             where i.product_id = p.id and o.status = 'open')
                     from forward_products p""");
             ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Tags product = Tags.of("product", rs.getString(1));
                interest.add(MultiGauge.Row.of(product, rs.getLong(2)));
                resting.add(MultiGauge.Row.of(product, rs.getLong(3)));
            }
        } catch (SQLException e) {
            LOG.debugf("forward market gauges not refreshed: %s", e.getMessage());
            return;
        }
        openInterest.register(interest, true);
        restingOrders.register(resting, true);
    }
}
