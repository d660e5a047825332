package dev.tokenmarket.forwards;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Event;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The instruments of every product: listed per UTC hour and per UTC day ahead, moved to delivering when
 * trading stops (which fires {@link TradingStopped} so the book cancels its resting orders).
 */
@ApplicationScoped
public class Instruments {

    private static final DateTimeFormatter HOUR = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH").withZone(ZoneOffset.UTC);
    private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("yyyy-MM-dd").withZone(ZoneOffset.UTC);
    private static final String COLUMNS = """
            id, symbol, product_id, window_kind, delivery_start, delivery_end, trading_stops_at, state,
            last_price_nano_usd, settlement_price_nano_usd""";

    @Inject
    AgroalDataSource dataSource;

    @Inject
    ForwardsConfig config;

    @Inject
    Products products;

    @Inject
    Event<TradingStopped> tradingStopped;

    /** An instrument whose trading stopped: its resting orders are to be cancelled. */
    public record TradingStopped(Instrument instrument) {
    }

    /** {@code FWD-stories260k-2026-12-04T14} for an hour, {@code FWD-stories260k-2026-12-04} for a day (UTC). */
    static String symbol(String productCode, Instrument.WindowKind kind, Instant deliveryStart) {
        return "FWD-" + productCode + "-" + (kind == Instrument.WindowKind.HOUR ? HOUR : DAY).format(deliveryStart);
    }

    /**
     * Lists every window due at {@code now} that is not listed yet, opens listed instruments for trading and
     * stops trading in those whose stop has come. Idempotent: running it twice at one instant changes nothing.
     */
    public void schedule(Instant now) {
        for (Product product : products.all()) {
            schedule(now, product);
        }
    }

    /** The same for one product's instruments. */
    public void schedule(Instant now, Product product) {
        listAhead(product, now);
        try (Connection c = dataSource.getConnection();
             PreparedStatement open = c.prepareStatement("update forward_instruments set state = 'trading'"
                     + " where product_id = ? and state = 'listed' and trading_stops_at > ?")) {
            open.setLong(1, product.id());
            open.setTimestamp(2, Timestamp.from(now));
            open.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not open instruments for trading", e);
        }
        List<Instrument> stopped = stopTrading(product, now);
        forgetRecent();
        for (Instrument i : stopped) {
            tradingStopped.fire(new TradingStopped(i));
        }
    }

    private void listAhead(Product product, Instant now) {
        Instant stopBefore = now.plus(config.tradingStopBefore());
        List<Instant[]> windows = new ArrayList<>();
        Instant lastHour = now.plus(config.hourlyAhead());
        for (Instant h = stopBefore.truncatedTo(ChronoUnit.HOURS); !h.isAfter(lastHour); h = h.plus(1, ChronoUnit.HOURS)) {
            if (h.isAfter(stopBefore)) {
                windows.add(new Instant[]{h, h.plus(1, ChronoUnit.HOURS)});
            }
        }
        int hourly = windows.size();
        Instant lastDay = now.truncatedTo(ChronoUnit.DAYS).plus(config.dailyAheadDays(), ChronoUnit.DAYS);
        for (Instant d = stopBefore.truncatedTo(ChronoUnit.DAYS); !d.isAfter(lastDay); d = d.plus(1, ChronoUnit.DAYS)) {
            if (d.isAfter(stopBefore)) {
                windows.add(new Instant[]{d, d.plus(1, ChronoUnit.DAYS)});
            }
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into forward_instruments (symbol, product_id, window_kind, delivery_start, delivery_end,
                         trading_stops_at, state)
                     values (?, ?, ?, ?, ?, ?, 'listed') on conflict do nothing""")) {
            for (int i = 0; i < windows.size(); i++) {
                Instrument.WindowKind kind = i < hourly ? Instrument.WindowKind.HOUR : Instrument.WindowKind.DAY;
                Instant start = windows.get(i)[0];
                ps.setString(1, symbol(product.code(), kind, start));
                ps.setLong(2, product.id());
                ps.setString(3, kind.wireName());
                ps.setTimestamp(4, Timestamp.from(start));
                ps.setTimestamp(5, Timestamp.from(windows.get(i)[1]));
                ps.setTimestamp(6, Timestamp.from(start.minus(config.tradingStopBefore())));
                ps.addBatch();
            }
            ps.executeBatch();
        } catch (SQLException e) {
            throw new IllegalStateException("could not list the instruments of " + product.code(), e);
        }
    }

    private List<Instrument> stopTrading(Product product, Instant now) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("update forward_instruments set state = 'delivering' where product_id = ?"
                     + " and state in ('listed', 'trading', 'halted') and trading_stops_at <= ? returning " + COLUMNS)) {
            ps.setLong(1, product.id());
            ps.setTimestamp(2, Timestamp.from(now));
            return readAll(ps);
        } catch (SQLException e) {
            throw new IllegalStateException("could not stop trading", e);
        }
    }

    /** Admin: halts trading (orders are refused, resting ones stay) or resumes it. */
    public Instrument setHalted(String symbol, boolean halted) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("update forward_instruments set state = ? where symbol = ? and state = ? returning " + COLUMNS)) {
            ps.setString(1, halted ? "halted" : "trading");
            ps.setString(2, symbol);
            ps.setString(3, halted ? "trading" : "halted");
            List<Instrument> changed = readAll(ps);
            if (changed.isEmpty()) {
                Instrument current = bySymbol(symbol);
                throw new ApiException(ErrorCode.INSTRUMENT_NOT_TRADING, "Instrument " + symbol + " is " + current.state().wireName()
                        + "; only a trading instrument can be halted and only a halted one resumed.");
            }
            forgetRecent();
            return changed.getFirst();
        } catch (SQLException e) {
            throw new IllegalStateException("could not change the state of " + symbol, e);
        }
    }

    /** Instruments in delivery-start order, optionally only those of one state and one product code. */
    public List<Instrument> list(Instrument.State state, String productCode) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from forward_instruments"
                     + " where (?::text is null or state = ?)"
                     + " and (?::text is null or product_id = (select id from forward_products where code = ?))"
                     + " order by delivery_start, window_kind, symbol limit 5000")) {
            String s = state == null ? null : state.wireName();
            ps.setString(1, s);
            ps.setString(2, s);
            ps.setString(3, productCode);
            ps.setString(4, productCode);
            return readAll(ps);
        } catch (SQLException e) {
            throw new IllegalStateException("could not list instruments", e);
        }
    }

    /**
     * Trading or halted instruments with resting orders (of {@code orgId}, or of anyone when null): the books
     * that have something to expire, stop or cancel.
     */
    public List<Instrument> withOpenOrders(java.util.UUID orgId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from forward_instruments where state in ('trading', 'halted')"
                     + " and id in (select instrument_id from forward_orders where status = 'open' and (?::uuid is null or org_id = ?))"
                     + " order by id")) {
            ps.setObject(1, orgId);
            ps.setObject(2, orgId);
            return readAll(ps);
        } catch (SQLException e) {
            throw new IllegalStateException("could not list open instruments", e);
        }
    }

    /**
     * How old an instrument the order path may use: a halt or resume by another replica reaches this one's
     * orders within it (one here, and every scheduled change, at once: they forget what was read).
     */
    private static final long RECENT_MILLIS = 1_000;

    private record Recent(Instrument instrument, long readAtMillis) {
    }

    private final Map<String, Recent> recentBySymbol = new ConcurrentHashMap<>();
    private final Map<Long, Recent> recentById = new ConcurrentHashMap<>();

    /** The instrument as read at most {@link #RECENT_MILLIS} ago, for the order path (a read per order was its largest cost). */
    public Instrument recentBySymbol(String symbol) {
        return recent(recentBySymbol, symbol, this::bySymbol);
    }

    /** As {@link #recentBySymbol}, by id. */
    public Instrument recentById(long id) {
        return recent(recentById, id, this::byId);
    }

    private static <K> Instrument recent(Map<K, Recent> recent, K key, java.util.function.Function<K, Instrument> read) {
        Recent r = recent.get(key);
        long now = System.currentTimeMillis();
        if (r == null || now - r.readAtMillis() > RECENT_MILLIS) {
            r = new Recent(read.apply(key), now);
            recent.put(key, r);
        }
        return r.instrument();
    }

    private void forgetRecent() {
        recentBySymbol.clear();
        recentById.clear();
    }

    /** The instrument with this symbol; 404 when there is none. */
    public Instrument bySymbol(String symbol) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from forward_instruments where symbol = ?")) {
            ps.setString(1, symbol);
            List<Instrument> found = readAll(ps);
            if (found.isEmpty()) {
                throw new ApiException(ErrorCode.NOT_FOUND, "No forward instrument " + symbol
                        + "; GET /api/forwards/instruments lists them (symbols look like FWD-stories260k-2026-12-04T14).");
            }
            return found.getFirst();
        } catch (SQLException e) {
            throw new IllegalStateException("could not read instrument " + symbol, e);
        }
    }

    public Instrument byId(long id) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select " + COLUMNS + " from forward_instruments where id = ?")) {
            ps.setLong(1, id);
            return readAll(ps).getFirst();
        } catch (SQLException e) {
            throw new IllegalStateException("could not read instrument " + id, e);
        }
    }

    private static List<Instrument> readAll(PreparedStatement ps) throws SQLException {
        List<Instrument> result = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                result.add(new Instrument(rs.getLong(1), rs.getString(2), rs.getLong(3),
                        Instrument.WindowKind.valueOf(rs.getString(4).toUpperCase(java.util.Locale.ROOT)),
                        rs.getTimestamp(5).toInstant(), rs.getTimestamp(6).toInstant(), rs.getTimestamp(7).toInstant(),
                        Instrument.State.fromWire(rs.getString(8)), (Long) rs.getObject(9), (Long) rs.getObject(10)));
            }
        }
        return result;
    }
}
