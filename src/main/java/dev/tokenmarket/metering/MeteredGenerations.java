package dev.tokenmarket.metering;

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
import java.util.function.Consumer;

/**
 * Metering's answer to "which generations of a model were metered in a period", for contexts that price
 * what was served (the spot index): the generations table stays metering's own.
 */
@ApplicationScoped
public class MeteredGenerations {

    /** Rows handed over at a time: an hour of a busy model is millions of rows, never all in memory at once. */
    public static final int CHUNK_ROWS_MAX = 10_000;

    @Inject
    AgroalDataSource dataSource;

    /** One metered generation: who bought from whom, how many tokens, at what cost. */
    public record Generation(UUID id, UUID buyerOrgId, UUID providerOrgId, int promptTokens, int completionTokens,
                             long costNanoUsd) {
    }

    /**
     * Hands {@code sink} the generations of {@code model} metered in [from, to), in chunks of at most
     * {@value #CHUNK_ROWS_MAX}, read from one snapshot. "Metered" is the generation row's time, written in the
     * transaction that records its usage event.
     */
    public void forEachChunk(String model, Instant from, Instant to, Consumer<List<Generation>> sink) {
        try (Connection c = dataSource.getConnection()) {
            boolean autoCommit = c.getAutoCommit();
            // Inside a transaction the driver fetches the rows a chunk at a time instead of all at once.
            c.setAutoCommit(false);
            c.setReadOnly(true);
            try (PreparedStatement ps = c.prepareStatement("""
                    select id, buyer_org_id, provider_org_id, prompt_tokens, completion_tokens, cost_nano_usd
                    from generations where model = ? and created_at >= ? and created_at < ?""")) {
                // Rows in binary: a uuid is then 16 bytes to copy, not 36 characters to parse, three times a row.
                ps.unwrap(org.postgresql.PGStatement.class).setPrepareThreshold(-1);
                ps.setFetchSize(CHUNK_ROWS_MAX);
                ps.setString(1, model);
                ps.setTimestamp(2, Timestamp.from(from));
                ps.setTimestamp(3, Timestamp.from(to));
                try (ResultSet rs = ps.executeQuery()) {
                    List<Generation> chunk = new ArrayList<>(CHUNK_ROWS_MAX);
                    while (rs.next()) {
                        chunk.add(new Generation(rs.getObject(1, UUID.class), rs.getObject(2, UUID.class),
                                rs.getObject(3, UUID.class), rs.getInt(4), rs.getInt(5), rs.getLong(6)));
                        if (chunk.size() == CHUNK_ROWS_MAX) {
                            sink.accept(chunk);
                            chunk = new ArrayList<>(CHUNK_ROWS_MAX);
                        }
                    }
                    if (!chunk.isEmpty()) {
                        sink.accept(chunk);
                    }
                }
            } finally {
                c.rollback();
                c.setReadOnly(false);
                c.setAutoCommit(autoCommit);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not read the generations of " + model + " in [" + from + ", " + to + ")", e);
        }
    }

    /** Usage events metered before {@code before} that the outbox has not yet handed to Kafka. */
    public long unpublishedBefore(Instant before) {
        try (Connection c = dataSource.getConnection();
             PreparedStatement ps = c.prepareStatement(
                     "select count(*) from usage_outbox where published_at is null and created_at < ?")) {
            ps.setTimestamp(1, Timestamp.from(before));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("could not count the outbox backlog", e);
        }
    }
}
