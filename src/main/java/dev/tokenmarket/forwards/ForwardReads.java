package dev.tokenmarket.forwards;

import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * What the market shows, read from the orders and trades the books' owners commit: any replica answers, and
 * it shows only what was acknowledged.
 */
@ApplicationScoped
public class ForwardReads {

    public static final int DEPTH_DEFAULT = 20;
    public static final int DEPTH_MAX = 100;
    public static final int LIMIT_MAX = 1_000;

    private static final String ORDERS = """
            select o.id, o.client_order_id, i.symbol, o.side, o.price_nano_usd, o.quantity, o.open_quantity,
                   o.filled_quantity, o.time_in_force, o.expires_at, o.post_only, o.reduce_only, o.self_trade_prevention,
                   o.status, o.reason, o.created_at, o.updated_at
            from forward_orders o join forward_instruments i on i.id = o.instrument_id""";

    @Inject
    AgroalDataSource dataSource;

    public record Level(String price, long quantity, int orders) {
    }

    public record Book(String instrument, String state, String bestBid, String bestAsk, String lastPrice, long openInterest,
                       List<Level> bids, List<Level> asks) {
    }

    public record Trade(String id, String price, long quantity, String takerSide, java.time.Instant createdAt) {
    }

    public record Fill(String tradeId, String instrument, String orderId, String side, String price, long quantity,
                       String liquidity, java.time.Instant createdAt) {
    }

    public record Position(String instrument, long quantity, String side, long boughtQuantity, long soldQuantity,
                           String boughtNotional, String soldNotional) {
    }

    public Book book(Instrument instrument, int depth) {
        int levels = Math.min(Math.max(depth, 1), DEPTH_MAX);
        try (Connection c = dataSource.getConnection()) {
            List<Level> bids = levels(c, instrument.id(), "buy", levels);
            List<Level> asks = levels(c, instrument.id(), "sell", levels);
            return new Book(instrument.symbol(), instrument.state().wireName(), bids.isEmpty() ? null : bids.getFirst().price(),
                    asks.isEmpty() ? null : asks.getFirst().price(),
                    instrument.lastPriceNanoUsd() == null ? null : Money.formatUsd(instrument.lastPriceNanoUsd()),
                    openInterest(c, instrument.id()), bids, asks);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the book of " + instrument.symbol(), e);
        }
    }

    private static List<Level> levels(Connection c, long instrumentId, String side, int levels) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("select price_nano_usd, sum(open_quantity), count(*) from forward_orders"
                + " where instrument_id = ? and side = ? and status = 'open' group by price_nano_usd order by price_nano_usd "
                + ("buy".equals(side) ? "desc" : "asc") + " limit ?")) {
            ps.setLong(1, instrumentId);
            ps.setString(2, side);
            ps.setInt(3, levels);
            List<Level> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new Level(Money.formatUsd(rs.getLong(1)), rs.getLong(2), rs.getInt(3)));
                }
            }
            return result;
        }
    }

    /** Contracts open: the sum of every long position (which equals the sum of every short). */
    static long openInterest(Connection c, long instrumentId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("""
                select coalesce(sum(greatest(net, 0)), 0), coalesce(sum(greatest(-net, 0)), 0) from (
                    select org, sum(q) as net from (
                        select buyer_org_id as org, quantity as q from forward_trades where instrument_id = ?
                        union all select seller_org_id, -quantity from forward_trades where instrument_id = ?) t
                    group by org) p""")) {
            ps.setLong(1, instrumentId);
            ps.setLong(2, instrumentId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                long longs = rs.getLong(1);
                if (longs != rs.getLong(2)) {
                    throw new IllegalStateException("instrument " + instrumentId + " has " + longs + " contracts long but "
                            + rs.getLong(2) + " short");
                }
                return longs;
            }
        }
    }

    public List<Trade> trades(Instrument instrument, int limit) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select id, price_nano_usd, quantity, taker_side, created_at from forward_trades"
                     + " where instrument_id = ? order by id desc limit ?")) {
            ps.setLong(1, instrument.id());
            ps.setInt(2, bounded(limit));
            List<Trade> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new Trade(Long.toString(rs.getLong(1)), Money.formatUsd(rs.getLong(2)), rs.getLong(3), rs.getString(4),
                            rs.getTimestamp(5).toInstant()));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the trades of " + instrument.symbol(), e);
        }
    }

    /** The organization's orders, newest first, optionally of one instrument and one status. */
    public List<Map<String, Object>> orders(UUID orgId, Long instrumentId, String status, int limit) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(ORDERS + "\n" + """
                     where o.org_id = ? and (?::bigint is null or o.instrument_id = ?) and (?::text is null or o.status = ?)
                     order by o.created_at desc, o.id desc limit ?""")) {
            ps.setObject(1, orgId);
            ps.setObject(2, instrumentId);
            ps.setObject(3, instrumentId);
            ps.setString(4, status);
            ps.setString(5, status);
            ps.setInt(6, bounded(limit));
            return readOrders(ps);
        } catch (SQLException e) {
            throw new IllegalStateException("could not read orders", e);
        }
    }

    public Map<String, Object> order(UUID orgId, long orderId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(ORDERS + " where o.org_id = ? and o.id = ?")) {
            ps.setObject(1, orgId);
            ps.setLong(2, orderId);
            List<Map<String, Object>> found = readOrders(ps);
            if (found.isEmpty()) {
                throw new ApiException(ErrorCode.NOT_FOUND, "No order " + orderId + " of this organization.");
            }
            return found.getFirst();
        } catch (SQLException e) {
            throw new IllegalStateException("could not read order " + orderId, e);
        }
    }

    /**
     * Refuses an order of another organization with 403, as every other id of another tenant is refused; an
     * unknown id passes, for the caller's own answer (404, or the book's 409 for an order it has not journaled yet).
     */
    public void requireOwnOrder(UUID orgId, long orderId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select org_id from forward_orders where id = ?")) {
            ps.setLong(1, orderId);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && !orgId.equals(rs.getObject(1, UUID.class))) {
                    throw new ApiException(ErrorCode.FORBIDDEN, "Order " + orderId + " belongs to another organization.");
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the owner of order " + orderId, e);
        }
    }

    private static List<Map<String, Object>> readOrders(PreparedStatement ps) throws SQLException {
        List<Map<String, Object>> result = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("id", Long.toString(rs.getLong(1)));
                o.put("client_order_id", rs.getString(2));
                o.put("instrument", rs.getString(3));
                o.put("side", rs.getString(4));
                o.put("price", Money.formatUsd(rs.getLong(5)));
                o.put("quantity", rs.getLong(6));
                o.put("open_quantity", rs.getLong(7));
                o.put("filled_quantity", rs.getLong(8));
                o.put("time_in_force", rs.getString(9));
                o.put("expires_at", rs.getTimestamp(10) == null ? null : rs.getTimestamp(10).toInstant().toString());
                o.put("post_only", rs.getBoolean(11));
                o.put("reduce_only", rs.getBoolean(12));
                o.put("self_trade_prevention", rs.getString(13));
                o.put("status", rs.getString(14));
                o.put("reason", rs.getString(15));
                o.put("created_at", rs.getTimestamp(16).toInstant().toString());
                o.put("updated_at", rs.getTimestamp(17).toInstant().toString());
                result.add(o);
            }
        }
        return result;
    }

    /** The organization's fills, newest first: one per trade it was in (two when it traded with itself, which STP prevents). */
    public List<Fill> fills(UUID orgId, Long instrumentId, int limit) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select t.id, i.symbol, t.taker_order_id, t.maker_order_id, t.buyer_org_id = ?, t.taker_side,
                            t.price_nano_usd, t.quantity, t.created_at
                     from forward_trades t join forward_instruments i on i.id = t.instrument_id
                     where (t.buyer_org_id = ? or t.seller_org_id = ?) and (?::bigint is null or t.instrument_id = ?)
                     order by t.id desc limit ?""")) {
            ps.setObject(1, orgId);
            ps.setObject(2, orgId);
            ps.setObject(3, orgId);
            ps.setObject(4, instrumentId);
            ps.setObject(5, instrumentId);
            ps.setInt(6, bounded(limit));
            List<Fill> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    String side = rs.getBoolean(5) ? "buy" : "sell";
                    boolean taker = side.equals(rs.getString(6));
                    result.add(new Fill(Long.toString(rs.getLong(1)), rs.getString(2), Long.toString(taker ? rs.getLong(3) : rs.getLong(4)),
                            side, Money.formatUsd(rs.getLong(7)), rs.getLong(8), taker ? "taker" : "maker", rs.getTimestamp(9).toInstant()));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read fills", e);
        }
    }

    /** The organization's net position per instrument it traded, with what it bought and sold. */
    public List<Position> positions(UUID orgId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select i.symbol,
                            coalesce(sum(t.quantity) filter (where t.buyer_org_id = ?), 0),
                            coalesce(sum(t.quantity) filter (where t.seller_org_id = ?), 0),
                            coalesce(sum(t.quantity * t.price_nano_usd) filter (where t.buyer_org_id = ?), 0),
                            coalesce(sum(t.quantity * t.price_nano_usd) filter (where t.seller_org_id = ?), 0)
                     from forward_trades t join forward_instruments i on i.id = t.instrument_id
                     where t.buyer_org_id = ? or t.seller_org_id = ?
                     group by i.symbol, i.delivery_start order by i.delivery_start, i.symbol""")) {
            for (int i = 1; i <= 6; i++) {
                ps.setObject(i, orgId);
            }
            List<Position> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    long net = rs.getLong(2) - rs.getLong(3);
                    result.add(new Position(rs.getString(1), net, net > 0 ? "long" : net < 0 ? "short" : "flat", rs.getLong(2),
                            rs.getLong(3), Money.formatUsd(rs.getLong(4)), Money.formatUsd(rs.getLong(5))));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read positions", e);
        }
    }

    private static int bounded(int limit) {
        return Math.min(Math.max(limit, 1), LIMIT_MAX);
    }
}
