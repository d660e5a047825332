package dev.tokenmarket.metering;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.DayRange;
import dev.tokenmarket.platform.Money;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Buyer and provider: the caller's own organization's metered usage per UTC day and model. */
@Path("/api/usage")
@Produces(MediaType.APPLICATION_JSON)
public class UsageResource {

    @Inject
    UsageReads reads;

    @Inject
    CurrentCaller currentCaller;

    /** What the caller's organization bought: requests, tokens and spend. */
    @GET
    @Path("/daily")
    public Map<String, Object> bought(@QueryParam("from") String from, @QueryParam("to") String to) {
        Caller caller = currentCaller.get();
        caller.require(Role.BUYER);
        return view(caller, UsageReads.Side.BUYER, DayRange.parse(from, to), "spend");
    }

    /** What the caller's organization served as a provider: requests, tokens and what buyers were billed. */
    @GET
    @Path("/served/daily")
    public Map<String, Object> served(@QueryParam("from") String from, @QueryParam("to") String to) {
        Caller caller = currentCaller.get();
        caller.require(Role.PROVIDER);
        return view(caller, UsageReads.Side.PROVIDER, DayRange.parse(from, to), "billed");
    }

    private Map<String, Object> view(Caller caller, UsageReads.Side side, DayRange days, String costField) {
        List<Map<String, Object>> rows = reads.daily(caller.orgId(), side, days.start(), days.end()).stream().map(u -> {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("day", u.day().toString());
            row.put("model", u.model());
            row.put("requests", u.requests());
            row.put("prompt_tokens", u.promptTokens());
            row.put("completion_tokens", u.completionTokens());
            row.put(costField, Money.formatUsd(u.costNanoUsd()));
            return row;
        }).toList();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("org_id", caller.orgId());
        body.put("from", days.from().toString());
        body.put("to", days.to().toString());
        body.put("data", rows);
        return body;
    }
}
