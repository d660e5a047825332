package dev.tokenmarket.forwards;

import dev.tokenmarket.catalog.Listings;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;

/**
 * How many more contracts a provider may be short on an instrument: what its active endpoints that deliver
 * the product serve in the window, less what its other commitments already take of it.
 *
 * <p>In tokens: an endpoint serves its tokens per minute times 60 times the configured fraction each hour. A
 * contract needs at most 1,000,000 ST divided by the product's smallest weight (the worst case: every token
 * the buyer sends is of the kind that counts least) tokens, rounded up. A commitment on an instrument is the
 * short it has plus its resting sells beyond its long (what it would be short if they all filled); it is
 * spread evenly over the hours of its window (a daily contract takes a 24th of its tokens from each hour).
 * Every hour of the instrument's window must keep its commitments within what the endpoints serve, counting
 * the other instruments of the product and of every product those endpoints can deliver, hourly and daily.
 * Commitments of other products are counted against these endpoints only, which may be stricter than needed
 * when other endpoints of the provider could deliver them, never looser.
 */
@ApplicationScoped
public class ProviderCapacity {

    private static final long HOUR_SECONDS = 3_600;

    @Inject
    AgroalDataSource dataSource;

    @Inject
    Listings listings;

    @Inject
    Products products;

    @Inject
    ForwardsConfig config;

    /**
     * What the book checks a provider's sell against: its own instrument's commitment after the order, in
     * tokens spread over {@code windowHours}, must stay within {@code tokensLeftPerHour} (the least any hour of
     * the window has left after the provider's other instruments).
     */
    record Limit(long tokensLeftPerHour, long tokensPerContract, long windowHours, long endpointTokensPerHour) {

        /** The tokens per hour a commitment of {@code contracts} on this instrument takes. */
        long tokensPerHour(long contracts) {
            return Math.ceilDiv(Math.multiplyExact(contracts, tokensPerContract), windowHours);
        }

        /** The largest commitment on this instrument that fits. */
        long contractsMax() {
            // tokensPerHour(n) <= left  <=>  n * tpc <= left * hours.
            return tokensLeftPerHour <= 0 ? 0 : Math.multiplyExact(tokensLeftPerHour, windowHours) / tokensPerContract;
        }
    }

    /** Tokens one contract of {@code product} needs at most: 1,000,000 ST at the smallest positive weight. */
    static long tokensPerContract(Product product) {
        long weakest = Product.PROMPT_WEIGHT_MILLI;
        for (long w : new long[] {product.cachedWeightMilli(), product.completionWeightMilli()}) {
            if (w > 0) {
                weakest = Math.min(weakest, w);
            }
        }
        return Math.ceilDiv(Math.multiplyExact(Product.ST_PER_CONTRACT, 1_000L), weakest);
    }

    /** The provider's limit on {@code instrument}, from its active endpoints and its commitments elsewhere. */
    Limit limitFor(UUID provider, Instrument instrument, Product product) {
        List<Listings.Listing> own = listings.active().stream().filter(l -> provider.equals(l.providerOrgId())).toList();
        List<Listings.Listing> delivering = own.stream().filter(l -> delivers(product, l)).toList();
        long perHour = 0;
        for (Listings.Listing l : delivering) {
            perHour = Math.addExact(perHour, (long) l.capacityTokensPerMinute() * 60 * config.capacityFractionPercent() / 100);
        }
        Set<Long> counted = new HashSet<>();
        for (Product p : products.all()) {
            if (delivering.stream().anyMatch(l -> delivers(p, l))) {
                counted.add(p.id());
            }
        }
        long startHour = instrument.deliveryStart().getEpochSecond() / HOUR_SECONDS;
        long windowHours = Math.max(1, Duration.between(instrument.deliveryStart(), instrument.deliveryEnd()).toSeconds() / HOUR_SECONDS);
        long[] load = new long[(int) windowHours];
        for (Commitment other : commitments(provider, instrument, counted)) {
            long hours = Math.max(1, (other.endSecond - other.startSecond) / HOUR_SECONDS);
            long share = Math.ceilDiv(Math.multiplyExact(other.contracts, tokensPerContract(products.byId(other.productId))), hours);
            for (long h = Math.max(startHour, other.startSecond / HOUR_SECONDS);
                 h < Math.min(startHour + windowHours, other.endSecond / HOUR_SECONDS); h++) {
                load[(int) (h - startHour)] = Math.addExact(load[(int) (h - startHour)], share);
            }
        }
        long left = Long.MAX_VALUE;
        for (long l : load) {
            left = Math.min(left, perHour - l);
        }
        return new Limit(left, tokensPerContract(product), windowHours, perHour);
    }

    private static boolean delivers(Product p, Listings.Listing l) {
        return p.model().equals(l.model()) || p.extraEndpointIds().contains(l.endpointId());
    }

    private record Commitment(long productId, long startSecond, long endSecond, long contracts) {
    }

    /** The provider's commitments on the other open instruments of {@code productIds} whose window overlaps. */
    private List<Commitment> commitments(UUID provider, Instrument instrument, Set<Long> productIds) {
        List<Commitment> result = new ArrayList<>();
        if (productIds.isEmpty()) {
            return result;
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select i.product_id, i.delivery_start, i.delivery_end, greatest(0,
                         coalesce((select sum(o.open_quantity) from forward_orders o where o.instrument_id = i.id
                                   and o.org_id = ? and o.side = 'sell' and o.status = 'open'), 0)
                         - coalesce((select sum(case when t.buyer_org_id = ? then t.quantity else -t.quantity end)
                                     from forward_trades t where t.instrument_id = i.id
                                     and (t.buyer_org_id = ? or t.seller_org_id = ?)), 0))
                     from forward_instruments i
                     where i.product_id = any(?) and i.id <> ? and i.state <> 'settled'
                       and i.delivery_start < ? and i.delivery_end > ?""")) {
            ps.setObject(1, provider);
            ps.setObject(2, provider);
            ps.setObject(3, provider);
            ps.setObject(4, provider);
            ps.setArray(5, c.createArrayOf("int8", productIds.toArray()));
            ps.setLong(6, instrument.id());
            ps.setTimestamp(7, Timestamp.from(instrument.deliveryEnd()));
            ps.setTimestamp(8, Timestamp.from(instrument.deliveryStart()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long contracts = rs.getLong(4);
                    if (contracts > 0) {
                        result.add(new Commitment(rs.getLong(1), rs.getTimestamp(2).toInstant().getEpochSecond(),
                                rs.getTimestamp(3).toInstant().getEpochSecond(), contracts));
                    }
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the commitments of provider " + provider, e);
        }
        return result;
    }
}
