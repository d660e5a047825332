package dev.tokenmarket.forwards;

import dev.tokenmarket.catalog.ListedPrices;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/** The forward products an admin lists; a product never changes once listed (its instruments rely on it). */
@ApplicationScoped
public class Products {

    static final long CACHED_WEIGHT_MILLI_DEFAULT = 200;
    private static final Pattern CODE = Pattern.compile("[A-Za-z0-9._]{1,40}");
    private static final Pattern WEIGHT = Pattern.compile("\\d{1,6}(\\.\\d{1,3})?");
    private static final String COLUMNS = """
            id, code, model, extra_endpoint_ids, tick_nano_usd, lot_contracts, price_min_nano_usd, price_max_nano_usd,
            bond_rate_bps, maker_fee_bps, taker_fee_bps, cached_weight_milli, completion_weight_milli,
            trader_shorts_allowed, created_at""";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ListedPrices listedPrices;

    private final Map<Long, Product> byId = new ConcurrentHashMap<>();

    /** The body of {@code POST /api/forwards/products}; amounts are USD decimal strings per contract. */
    public record ListProduct(String code, String model, List<UUID> endpoints, String tick, Long lot, PriceBand priceBand,
                              Integer bondRateBps, Integer makerFeeBps, Integer takerFeeBps, Weights weights,
                              Boolean traderShortsAllowed) {
    }

    public record PriceBand(String min, String max) {
    }

    /** ST weights of a cached prompt token and a completion token, as decimals such as "0.2" and "4.21". */
    public record Weights(String cached, String completion) {
    }

    public Product list(ListProduct r) {
        if (r == null) {
            throw ApiException.invalid(null, "A body is required: {model, tick, lot, price_band, ...}.");
        }
        if (r.model() == null || r.model().isBlank()) {
            throw ApiException.invalid("model", "Field 'model' is required: the model a contract delivers.");
        }
        String code = r.code() != null ? r.code() : r.model();
        if (!CODE.matcher(code).matches()) {
            throw ApiException.invalid("code", "Field 'code' (default: the model) must be 1 to 40 letters, digits, '.' or '_'"
                    + " (it names the product in symbols such as FWD-" + "stories260k-2026-12-04T14); got \"" + code + "\".");
        }
        long tick = positiveUsd(r.tick(), "tick");
        long lot = r.lot() == null ? 1 : r.lot();
        if (lot <= 0 || lot > 1_000_000) {
            throw ApiException.invalid("lot", "Field 'lot' must be a whole number of contracts from 1 to 1000000.");
        }
        if (r.priceBand() == null) {
            throw ApiException.invalid("price_band", "Field 'price_band' is required: {min, max} in USD per contract.");
        }
        long min = positiveUsd(r.priceBand().min(), "price_band.min");
        long max = positiveUsd(r.priceBand().max(), "price_band.max");
        if (max < min) {
            throw ApiException.invalid("price_band.max", "price_band.max must not be below price_band.min.");
        }
        if (min % tick != 0 || max % tick != 0) {
            throw ApiException.invalid("price_band", "Both ends of price_band must be on the tick (" + Money.formatUsd(tick) + " USD).");
        }
        int bond = bps(r.bondRateBps(), 2_000, 10_000, "bond_rate_bps");
        int maker = bps(r.makerFeeBps(), 0, 1_000, "maker_fee_bps");
        int taker = bps(r.takerFeeBps(), 0, 1_000, "taker_fee_bps");
        long cached = r.weights() == null || r.weights().cached() == null ? CACHED_WEIGHT_MILLI_DEFAULT
                : weightMilli(r.weights().cached(), "weights.cached");
        long completion = r.weights() == null || r.weights().completion() == null ? medianCompletionWeightMilli(r.model())
                : weightMilli(r.weights().completion(), "weights.completion");
        List<UUID> extra = r.endpoints() == null ? List.of() : List.copyOf(r.endpoints());
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into forward_products (code, model, extra_endpoint_ids, tick_nano_usd, lot_contracts,
                         price_min_nano_usd, price_max_nano_usd, bond_rate_bps, maker_fee_bps, taker_fee_bps,
                         cached_weight_milli, completion_weight_milli, trader_shorts_allowed)
                     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict (code) do nothing returning\s""" + COLUMNS)) {
            ps.setString(1, code);
            ps.setString(2, r.model());
            ps.setArray(3, c.createArrayOf("uuid", extra.toArray()));
            ps.setLong(4, tick);
            ps.setLong(5, lot);
            ps.setLong(6, min);
            ps.setLong(7, max);
            ps.setInt(8, bond);
            ps.setInt(9, maker);
            ps.setInt(10, taker);
            ps.setLong(11, cached);
            ps.setLong(12, completion);
            ps.setBoolean(13, r.traderShortsAllowed() == null || r.traderShortsAllowed());
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new ApiException(ErrorCode.PRODUCT_EXISTS, "A product with code " + code
                            + " is already listed; products never change, so list a new one under another code.");
                }
                return remember(read(rs));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not list product " + code, e);
        }
    }

    public List<Product> all() {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from forward_products order by id");
             ResultSet rs = ps.executeQuery()) {
            List<Product> result = new ArrayList<>();
            while (rs.next()) {
                result.add(remember(read(rs)));
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the forward products", e);
        }
    }

    /** The product with this id (products never change, so they are remembered once read). */
    public Product byId(long id) {
        Product known = byId.get(id);
        if (known != null) {
            return known;
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from forward_products where id = ?")) {
            ps.setLong(1, id);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("no forward product " + id);
                }
                return remember(read(rs));
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read forward product " + id, e);
        }
    }

    private Product remember(Product p) {
        byId.put(p.id(), p);
        return p;
    }

    /**
     * The median completion/prompt price ratio of the model's active endpoints, in thousandths rounded half-even
     * (an even count takes the mean of the middle two): what a completion token costs against a prompt token.
     */
    long medianCompletionWeightMilli(String model) {
        List<BigDecimal> ratios = new ArrayList<>();
        for (ListedPrices.ListedPrice p : listedPrices.active(model, Instant.now())) {
            if (p.promptPriceNanoUsdPerMillionTokens() > 0) {
                ratios.add(BigDecimal.valueOf(p.completionPriceNanoUsdPerMillionTokens())
                        .divide(BigDecimal.valueOf(p.promptPriceNanoUsdPerMillionTokens()), 12, RoundingMode.HALF_EVEN));
            }
        }
        if (ratios.isEmpty()) {
            throw ApiException.invalid("weights.completion", "Model " + model + " has no active endpoint with a prompt price, so"
                    + " the completion weight has no default; give weights.completion (such as \"4.21\").");
        }
        BigDecimal[] sorted = ratios.stream().sorted().toArray(BigDecimal[]::new);
        int n = sorted.length;
        BigDecimal median = n % 2 == 1 ? sorted[n / 2]
                : sorted[n / 2 - 1].add(sorted[n / 2]).divide(BigDecimal.valueOf(2), 12, RoundingMode.HALF_EVEN);
        return median.movePointRight(3).setScale(0, RoundingMode.HALF_EVEN).longValueExact();
    }

    private static long positiveUsd(String value, String field) {
        long nano = Money.parseUsd(value, field);
        if (nano <= 0) {
            throw ApiException.invalid(field, "Field '" + field + "' must be above zero.");
        }
        return nano;
    }

    private static int bps(Integer value, int fallback, int max, String field) {
        int v = value == null ? fallback : value;
        if (v < 0 || v > max) {
            throw ApiException.invalid(field, "Field '" + field + "' must be basis points from 0 to " + max + "; got " + v + ".");
        }
        return v;
    }

    private static long weightMilli(String value, String field) {
        if (!WEIGHT.matcher(value).matches()) {
            throw ApiException.invalid(field, "Field '" + field + "' must be a non-negative decimal with at most 3 decimals, such as \"4.21\"; got \"" + value + "\".");
        }
        return new BigDecimal(value).movePointRight(3).longValueExact();
    }

    private static Product read(ResultSet rs) throws SQLException {
        UUID[] extra = (UUID[]) rs.getArray(4).getArray();
        return new Product(rs.getLong(1), rs.getString(2), rs.getString(3), Arrays.asList(extra), rs.getLong(5),
                rs.getLong(6), rs.getLong(7), rs.getLong(8), rs.getInt(9), rs.getInt(10), rs.getInt(11),
                rs.getLong(12), rs.getLong(13), rs.getBoolean(14), rs.getTimestamp(15).toInstant());
    }
}
