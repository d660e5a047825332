package dev.tokenmarket.identity;

import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/** {@link Directory} over identity's own tables. */
@ApplicationScoped
class IdentityDirectory implements Directory {

    @Inject
    AgroalDataSource dataSource;

    @Override
    public Map<UUID, String> organizationNames(Collection<UUID> orgIds) {
        Map<UUID, String> names = new HashMap<>();
        if (orgIds.isEmpty()) {
            return names;
        }
        // Plain JDBC: the router asks on its own snapshot refresh, outside any request's persistence context.
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select id, name from organizations where id = any(?)")) {
            ps.setArray(1, c.createArrayOf("uuid", orgIds.stream().distinct().toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    names.put(rs.getObject(1, UUID.class), rs.getString(2));
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read organization names", e);
        }
        return names;
    }

    @Override
    public Optional<UUID> ownerOfKey(UUID keyId) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select org_id from api_keys where id = ?")) {
            ps.setObject(1, keyId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(rs.getObject(1, UUID.class)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read key " + keyId, e);
        }
    }
}
