package dev.tokenmarket.forwards.index;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmarket.catalog.ListedPrices;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.IsoInstants;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The hourly spot index per model, as published (provisional and final), and finance's recomputation of a
 * published hour from the ledger.
 */
@Path("/api/forwards/index/{model}")
@Produces(MediaType.APPLICATION_JSON)
public class IndexResource {

    /** The longest period one request may ask for: 31 days of hours, two values each. */
    static final Duration PERIOD_MAX = Duration.ofDays(31);
    private static final Duration PERIOD_DEFAULT = Duration.ofHours(24);

    @Inject
    CurrentCaller currentCaller;

    @Inject
    IndexStore store;

    @Inject
    IndexComputation computation;

    @Inject
    ListedPrices listedPrices;

    @Inject
    IndexPublisher publisher;

    @Inject
    ObjectMapper objectMapper;

    /**
     * Values of the hours starting in [from, to) (default: the last 24 hours). Every role reads it: it is the
     * market's reference price, built from at least three providers and three buyers with none over the cap,
     * so it shows no one party's trades.
     */
    @GET
    public Map<String, Object> values(@PathParam("model") String model, @QueryParam("from") String from,
                                      @QueryParam("to") String to) {
        currentCaller.get().require(Role.TRADER, Role.BUYER, Role.PROVIDER, Role.FINANCE);
        Instant end = to == null || to.isBlank() ? publisher.clock.instant() : IsoInstants.parse(to, "to");
        Instant start = from == null || from.isBlank() ? end.minus(PERIOD_DEFAULT) : IsoInstants.parse(from, "from");
        if (!start.isBefore(end)) {
            throw ApiException.invalid("to", "'to' (" + end + ") must be after 'from' (" + start + ").");
        }
        if (Duration.between(start, end).compareTo(PERIOD_MAX) > 0) {
            throw ApiException.invalid("to", "At most " + PERIOD_MAX.toDays() + " days of hours per request; ask for "
                    + "[" + start + ", " + start.plus(PERIOD_MAX) + ") and then the next period.");
        }
        requireKnown(model);
        List<Object> values = new ArrayList<>();
        for (String json : store.values(model, start, end)) {
            values.add(parse(json));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("model", model);
        body.put("from", start.toString());
        body.put("to", end.toString());
        body.put("values", values);
        return body;
    }

    /**
     * Recomputes the published hour from the ledger as it is now and says whether it gives the published value
     * (rule, price and inputs digest). Finance and admin only: it reads every settled sale of the hour.
     */
    @GET
    @Path("/recomputation")
    public Map<String, Object> recomputation(@PathParam("model") String model, @QueryParam("hour") String hour) {
        currentCaller.get().require(Role.FINANCE);
        if (hour == null || hour.isBlank()) {
            throw ApiException.invalid("hour", "Query parameter 'hour' is required: the hour's start, e.g. 2026-12-03T12:00:00Z.");
        }
        Instant hourStart = IsoInstants.parse(hour, "hour");
        if (!hourStart.truncatedTo(ChronoUnit.HOURS).equals(hourStart)) {
            throw ApiException.invalid("hour", "'hour' must be the start of a UTC hour, such as "
                    + hourStart.truncatedTo(ChronoUnit.HOURS) + "; got \"" + hour + "\".");
        }
        requireKnown(model);
        List<String> published = store.values(model, hourStart, hourStart.plus(IndexValue.HOUR));
        if (published.isEmpty()) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No value of " + model + " is published for the hour starting "
                    + hourStart + " yet; the provisional value comes 5 minutes after the hour.");
        }
        ObjectNode latest = parse(published.getLast());
        Methodology methodology = methodologyOf(latest);
        IndexValue.Computed again = computation.compute(model, hourStart, methodology);
        IndexValue recomputed = new IndexValue(model, hourStart,
                IndexValue.Status.valueOf(latest.get("status").asText().toUpperCase(java.util.Locale.ROOT)), again,
                methodology, publisher.clock.instant());
        Map<String, Object> view = recomputed.view();
        boolean matches = latest.get("rule").asText().equals(view.get("rule"))
                && java.util.Objects.equals(latest.get("price").asText(null), view.get("price"))
                && latest.get("inputs_sha256").asText().equals(HexFormat.of().formatHex(again.inputsSha256()));
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("model", model);
        body.put("hour_start", hourStart.toString());
        body.put("published", latest);
        body.put("recomputed", view);
        body.put("matches", matches);
        return body;
    }

    private void requireKnown(String model) {
        if (!listedPrices.isListed(model) && !store.hasValues(model)) {
            throw new ApiException(ErrorCode.MODEL_NOT_FOUND, "No index for model '" + model
                    + "': no endpoint ever listed it. GET /v1/models lists the models.", "model");
        }
    }

    private static Methodology methodologyOf(ObjectNode value) {
        var p = value.get("methodology");
        return new Methodology(value.get("methodology_version").asText(), p.get("minimum_providers").asInt(),
                p.get("minimum_buyers").asInt(), p.get("minimum_standard_tokens").asLong(),
                p.get("concentration_cap_bps").asInt(), p.get("outlier_mads").asInt());
    }

    private ObjectNode parse(String json) {
        try {
            return (ObjectNode) objectMapper.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a stored index value is not JSON", e);
        }
    }
}
