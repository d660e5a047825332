package dev.tokenmarket.forwards;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/** Each organization's number in the books (which work in longs), given once and never changed. */
@ApplicationScoped
public class Members {

    @Inject
    AgroalDataSource dataSource;

    private final Map<UUID, Long> numbers = new ConcurrentHashMap<>();
    private final Map<Long, UUID> orgs = new ConcurrentHashMap<>();

    public long numberOf(UUID orgId) {
        Long known = numbers.get(orgId);
        if (known != null) {
            return known;
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     with added as (insert into forward_members (org_id) values (?) on conflict do nothing returning number)
                     select number from added union all select number from forward_members where org_id = ?""")) {
            ps.setObject(1, orgId);
            ps.setObject(2, orgId);
            long number;
            try (ResultSet rs = ps.executeQuery()) {
                number = rs.next() ? rs.getLong(1) : -1;
            }
            if (number < 0) {
                // A concurrent first request of the organization inserted the row: the insert above waited for
                // its commit, but the statement's snapshot predates it; a new statement sees it.
                try (PreparedStatement again = c.prepareStatement("select number from forward_members where org_id = ?")) {
                    again.setObject(1, orgId);
                    try (ResultSet rs = again.executeQuery()) {
                        rs.next();
                        number = rs.getLong(1);
                    }
                }
            }
            numbers.put(orgId, number);
            orgs.put(number, orgId);
            return number;
        } catch (SQLException e) {
            throw new IllegalStateException("could not number organization " + orgId, e);
        }
    }

    public UUID orgOf(long number) {
        UUID known = orgs.get(number);
        if (known != null) {
            return known;
        }
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select org_id from forward_members where number = ?")) {
            ps.setLong(1, number);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("no forward member " + number);
                }
                UUID org = rs.getObject(1, UUID.class);
                numbers.put(org, number);
                orgs.put(number, org);
                return org;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read forward member " + number, e);
        }
    }
}
