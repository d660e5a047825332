package dev.tokenmarket.metering;

import dev.tokenmarket.platform.OneRoundTrip;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.util.List;

/**
 * The generation rows of finished requests, one command whatever their number, to send with the other
 * contexts' commands of the same transaction ({@link OneRoundTrip}).
 */
public record InsertGenerations(List<Row> rows) implements OneRoundTrip.Command {

    /** One finished request: its usage event and how it was delivered. */
    public record Row(UsageEvent event, boolean streamed, boolean cancelled) {
    }

    @Override
    public String sql() {
        return """
                insert into generations (id, buyer_org_id, api_key_id, endpoint_id, provider_org_id, model,
                    prompt_tokens, completion_tokens, prompt_price_nano_usd_per_mtok, completion_price_nano_usd_per_mtok,
                    cost_nano_usd, fee_nano_usd, hold_id, finish_reason, streamed, cancelled, latency_ms, ttft_ms, generation_ms,
                    created_at)
                select * from unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[], ?::text[], ?::int[], ?::int[],
                    ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::uuid[], ?::text[], ?::boolean[], ?::boolean[],
                    ?::int[], ?::int[], ?::int[], ?::timestamptz[])""";
    }

    @Override
    public int bind(Connection c, PreparedStatement ps, int first) throws SQLException {
        List<UsageEvent> events = rows.stream().map(Row::event).toList();
        int i = first;
        ps.setArray(i++, c.createArrayOf("uuid", events.stream().map(UsageEvent::eventId).toArray()));
        ps.setArray(i++, c.createArrayOf("uuid", events.stream().map(UsageEvent::buyerOrgId).toArray()));
        ps.setArray(i++, c.createArrayOf("uuid", events.stream().map(UsageEvent::apiKeyId).toArray()));
        ps.setArray(i++, c.createArrayOf("uuid", events.stream().map(UsageEvent::endpointId).toArray()));
        ps.setArray(i++, c.createArrayOf("uuid", events.stream().map(UsageEvent::providerOrgId).toArray()));
        ps.setArray(i++, c.createArrayOf("text", events.stream().map(UsageEvent::model).toArray()));
        ps.setArray(i++, c.createArrayOf("int4", events.stream().map(UsageEvent::promptTokens).toArray()));
        ps.setArray(i++, c.createArrayOf("int4", events.stream().map(UsageEvent::completionTokens).toArray()));
        ps.setArray(i++, c.createArrayOf("int8", events.stream().map(UsageEvent::promptPriceNanoUsdPerMillionTokens).toArray()));
        ps.setArray(i++, c.createArrayOf("int8", events.stream().map(UsageEvent::completionPriceNanoUsdPerMillionTokens).toArray()));
        ps.setArray(i++, c.createArrayOf("int8", events.stream().map(UsageEvent::costNanoUsd).toArray()));
        ps.setArray(i++, c.createArrayOf("int8", events.stream().map(UsageEvent::feeNanoUsd).toArray()));
        ps.setArray(i++, c.createArrayOf("uuid", events.stream().map(UsageEvent::holdId).toArray()));
        ps.setArray(i++, c.createArrayOf("text", events.stream().map(UsageEvent::finishReason).toArray()));
        ps.setArray(i++, c.createArrayOf("bool", rows.stream().map(Row::streamed).toArray()));
        ps.setArray(i++, c.createArrayOf("bool", rows.stream().map(Row::cancelled).toArray()));
        ps.setArray(i++, c.createArrayOf("int4", events.stream().map(e -> (int) e.latencyMs()).toArray()));
        ps.setArray(i++, c.createArrayOf("int4", events.stream().map(e -> (int) e.ttftMs()).toArray()));
        ps.setArray(i++, c.createArrayOf("int4", events.stream().map(e -> (int) e.generationMs()).toArray()));
        // The row's time is the usage event's occurred_at, so a generation falls in the same UTC hour for the
        // index, the statements and the ledger's event, whatever the commit's delay.
        ps.setArray(i++, c.createArrayOf("timestamptz", events.stream().map(e -> Timestamp.from(e.occurredAt())).toArray()));
        return i - first;
    }
}
