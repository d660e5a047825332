package dev.tokenmarket.forwards.index;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The published values (table forward_index_values), each written once. */
@ApplicationScoped
class IndexStore {

    @Inject
    AgroalDataSource dataSource;

    /** A published value's key figures, for the previous-value rule. */
    record Stored(Instant hourStart, String status, String rule, Long priceNanoUsdPerMillionSt, byte[] inputsSha256) {
    }

    /** A value as published, and whether Kafka has acknowledged it. */
    record Published(String model, Instant hourStart, String status, String json) {
    }

    /** Writes the value unless one of its model, hour and status exists; answers whether it wrote it. */
    boolean insert(IndexValue value, String json) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     insert into forward_index_values (model, hour_start, status, rule, price_nano_usd_per_mst,
                         methodology_version, inputs_sha256, value, computed_at)
                     values (?, ?, ?, ?, ?, ?, ?, ?::json, ?) on conflict do nothing""")) {
            ps.setString(1, value.model());
            ps.setTimestamp(2, Timestamp.from(value.hourStart()));
            ps.setString(3, value.status().wireName());
            ps.setString(4, value.computed().rule().wireName());
            ps.setObject(5, value.computed().priceNanoUsdPerMillionSt());
            ps.setString(6, value.methodology().version());
            ps.setBytes(7, value.computed().inputsSha256());
            ps.setString(8, json);
            ps.setTimestamp(9, Timestamp.from(value.computedAt()));
            return ps.executeUpdate() == 1;
        } catch (SQLException e) {
            throw new IllegalStateException("could not store the index value of " + value.model() + " " + value.hourStart(), e);
        }
    }

    /** The statuses published so far for each hour of [from, to). */
    Map<Instant, Set<IndexValue.Status>> statuses(String model, Instant from, Instant to) {
        Map<Instant, Set<IndexValue.Status>> result = new HashMap<>();
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select hour_start, status from forward_index_values
                     where model = ? and hour_start >= ? and hour_start < ?""")) {
            ps.setString(1, model);
            ps.setTimestamp(2, Timestamp.from(from));
            ps.setTimestamp(3, Timestamp.from(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.computeIfAbsent(rs.getTimestamp(1).toInstant(), h -> EnumSet.noneOf(IndexValue.Status.class))
                            .add(IndexValue.Status.valueOf(rs.getString(2).toUpperCase(java.util.Locale.ROOT)));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the index values of " + model, e);
        }
    }

    /** The latest value with a price for an hour before {@code hourStart}: the final one when there are both. */
    Stored latestPricedBefore(String model, Instant hourStart) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select hour_start, status, rule, price_nano_usd_per_mst, inputs_sha256 from forward_index_values
                     where model = ? and hour_start < ? and price_nano_usd_per_mst is not null
                     order by hour_start desc, status = 'final' desc limit 1""")) {
            ps.setString(1, model);
            ps.setTimestamp(2, Timestamp.from(hourStart));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next()
                        ? new Stored(rs.getTimestamp(1).toInstant(), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getBytes(5))
                        : null;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the previous index value of " + model, e);
        }
    }

    /** The values of hours in [from, to) as published, oldest hour first, provisional before final. */
    List<String> values(String model, Instant from, Instant to) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select value from forward_index_values where model = ? and hour_start >= ? and hour_start < ?
                     order by hour_start, status = 'final'""")) {
            ps.setString(1, model);
            ps.setTimestamp(2, Timestamp.from(from));
            ps.setTimestamp(3, Timestamp.from(to));
            List<String> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(rs.getString(1));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the index values of " + model, e);
        }
    }

    boolean hasValues(String model) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select exists (select 1 from forward_index_values where model = ?)")) {
            ps.setString(1, model);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not look the index of " + model + " up", e);
        }
    }

    /** Values Kafka has not acknowledged yet, oldest first. */
    List<Published> unpublished(int limit) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select model, hour_start, status, value from forward_index_values where published_at is null
                     order by computed_at, hour_start, status = 'final' limit ?""")) {
            ps.setInt(1, limit);
            List<Published> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new Published(rs.getString(1), rs.getTimestamp(2).toInstant(), rs.getString(3), rs.getString(4)));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the unpublished index values", e);
        }
    }

    void markPublished(Published value, Instant at) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     update forward_index_values set published_at = ?
                     where model = ? and hour_start = ? and status = ? and published_at is null""")) {
            ps.setTimestamp(1, Timestamp.from(at));
            ps.setString(2, value.model());
            ps.setTimestamp(3, Timestamp.from(value.hourStart()));
            ps.setString(4, value.status());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("could not stamp index value " + value.model() + " " + value.hourStart(), e);
        }
    }
}
