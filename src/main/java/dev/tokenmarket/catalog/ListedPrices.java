package dev.tokenmarket.catalog;

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
import java.util.List;
import java.util.UUID;

/** The catalog's answer to "which models are listed, and at what prices", for the spot index. */
@ApplicationScoped
public class ListedPrices {

    @Inject
    AgroalDataSource dataSource;

    /** An active endpoint's list prices, per million prompt and completion tokens. */
    public record ListedPrice(UUID endpointId, UUID providerOrgId, long promptPriceNanoUsdPerMillionTokens,
                              long completionPriceNanoUsdPerMillionTokens) {
    }

    /** The active endpoints of {@code model} listed before {@code listedBefore}, by id. */
    public List<ListedPrice> active(String model, Instant listedBefore) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("""
                     select id, provider_org_id, prompt_price_nano_usd_per_mtok, completion_price_nano_usd_per_mtok
                     from endpoints where model = ? and status = 'active' and created_at < ? order by id""")) {
            ps.setString(1, model);
            ps.setTimestamp(2, Timestamp.from(listedBefore));
            List<ListedPrice> result = new ArrayList<>();
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    result.add(new ListedPrice(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class), rs.getLong(3), rs.getLong(4)));
                }
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the list prices of " + model, e);
        }
    }

    /** Every model an endpoint was ever listed for, active or not, in name order. */
    public List<String> models() {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select distinct model from endpoints order by model");
             ResultSet rs = ps.executeQuery()) {
            List<String> result = new ArrayList<>();
            while (rs.next()) {
                result.add(rs.getString(1));
            }
            return result;
        } catch (SQLException e) {
            throw new IllegalStateException("could not list the models", e);
        }
    }

    /** Whether an endpoint was ever listed for {@code model}. */
    public boolean isListed(String model) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement("select exists (select 1 from endpoints where model = ?)")) {
            ps.setString(1, model);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getBoolean(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not look model " + model + " up", e);
        }
    }
}
