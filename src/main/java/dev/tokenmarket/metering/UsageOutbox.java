package dev.tokenmarket.metering;

import dev.tokenmarket.platform.OneRoundTrip;
import dev.tokenmarket.platform.TraceParents;
import io.agroal.api.AgroalDataSource;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.transaction.Transactional;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/** Durable record of usage events not yet acknowledged by Kafka (the transactional outbox). */
@ApplicationScoped
public class UsageOutbox {

    @Inject
    AgroalDataSource dataSource;

    @Inject
    OutboxRelay relay;

    /** Records the event in the caller's transaction; the relay publishes it once that commits. */
    @Transactional(Transactional.TxType.MANDATORY)
    public void record(UsageEvent event) {
        try (Connection c = dataSource.getConnection()) {
            insert(c, event);
        } catch (SQLException e) {
            throw new IllegalStateException("could not record usage event " + event.eventId(), e);
        }
        relay.nudgeAfterCommit();
    }

    /** Records the event on {@code c} in the caller's transaction; call {@link #committed()} after the commit. */
    public static void insert(Connection c, UsageEvent event) throws SQLException {
        OneRoundTrip.run(c, List.of(new InsertEvents(List.of(event), java.util.Collections.singletonList(TraceParents.current()))));
    }

    /**
     * {@link #insert} for several events, as a command to send with others in {@link OneRoundTrip}. The payload
     * is kept as the text the encoder wrote and relayed as it is, so the ledger gets the encoder's exact bytes.
     */
    public static final class InsertEvents implements OneRoundTrip.Command {
        private final List<UsageEvent> events;
        private final List<String> traceParents;

        /** @param traceParents each event's request's {@link TraceParents#current() traceparent}, or null */
        public InsertEvents(List<UsageEvent> events, List<String> traceParents) {
            if (traceParents.size() != events.size()) {
                throw new IllegalArgumentException(events.size() + " events but " + traceParents.size() + " trace parents");
            }
            this.events = events;
            this.traceParents = traceParents;
        }

        /** Events recorded outside any request's trace. */
        public InsertEvents(List<UsageEvent> events) {
            this(events, java.util.Collections.nCopies(events.size(), null));
        }

        @Override
        public String sql() {
            return """
                    insert into usage_outbox (event_id, buyer_org_id, payload, trace_parent)
                    select e.event_id, e.buyer_org_id, e.payload, e.trace_parent
                    from unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[]) as e (event_id, buyer_org_id, payload, trace_parent)""";
        }

        @Override
        public int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
            ps.setArray(first, c.createArrayOf("uuid", events.stream().map(UsageEvent::eventId).toArray()));
            ps.setArray(first + 1, c.createArrayOf("uuid", events.stream().map(UsageEvent::buyerOrgId).toArray()));
            ps.setArray(first + 2, c.createArrayOf("text", events.stream().map(UsageEventCodec::toJson).toArray()));
            ps.setArray(first + 3, c.createArrayOf("text", traceParents.toArray()));
            return 4;
        }
    }

    /** Wakes the relay after events written with {@link #insert} were committed. */
    public void committed() {
        relay.wakeUp();
    }
}
