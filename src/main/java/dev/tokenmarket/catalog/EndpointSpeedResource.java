package dev.tokenmarket.catalog;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.metering.UsageReads;
import dev.tokenmarket.platform.IsoInstants;
import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Provider: an endpoint's declared speed against what its generations measured, bucket by bucket. */
@Path("/api/endpoints/{id}/speed")
@Produces(MediaType.APPLICATION_JSON)
public class EndpointSpeedResource {

    /** Buckets one read answers at most: a day of minutes. */
    static final int BUCKETS_MAX = 1440;

    private static final Map<String, Duration> BUCKETS = Map.of(
            "minute", Duration.ofMinutes(1), "hour", Duration.ofHours(1), "day", Duration.ofDays(1));

    @Inject
    EndpointService endpoints;

    @Inject
    UsageReads usage;

    @Inject
    CurrentCaller currentCaller;

    @GET
    public Map<String, Object> speed(@PathParam("id") UUID id, @QueryParam("from") String from,
                                     @QueryParam("to") String to, @QueryParam("bucket") String bucket) {
        Caller caller = currentCaller.get();
        caller.require(Role.PROVIDER);
        Endpoint e = endpoints.owned(id, caller.has(Role.ADMIN) ? null : caller.orgId());
        String bucketName = bucket == null || bucket.isBlank() ? "hour" : bucket;
        Duration width = BUCKETS.get(bucketName);
        if (width == null) {
            throw ApiException.invalid("bucket", "'bucket' must be minute, hour or day; got \"" + bucketName + "\".");
        }
        Instant end = to == null || to.isBlank() ? Instant.now() : IsoInstants.parse(to, "to");
        Instant start = from == null || from.isBlank() ? end.minus(width.multipliedBy(24)) : IsoInstants.parse(from, "from");
        if (!start.isBefore(end) || Duration.between(start, end).compareTo(width.multipliedBy(BUCKETS_MAX)) > 0) {
            throw ApiException.invalid("from", "'from' (" + start + ") must be before 'to' (" + end + "), at most "
                    + BUCKETS_MAX + " buckets of a " + bucketName + " apart.");
        }
        List<Map<String, Object>> rows = usage.speed(e.id, start, end, width).stream().map(b -> {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("start", b.start().toString());
            row.put("requests", b.requests());
            row.put("ttft_ms", percentiles(b.ttftMsP50(), b.ttftMsP90()));
            row.put("throughput_tps", percentiles(b.throughputTpsP50(), b.throughputTpsP90()));
            return row;
        }).toList();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("endpoint_id", e.id);
        body.put("declared", new EndpointRequests.Declared(e.declaredThroughputTps, e.declaredTtftMs));
        body.put("bucket", bucketName);
        body.put("from", start.toString());
        body.put("to", end.toString());
        body.put("data", rows);
        return body;
    }

    private static Map<String, Object> percentiles(Double p50, Double p90) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("p50", p50);
        view.put("p90", p90);
        return view;
    }
}
