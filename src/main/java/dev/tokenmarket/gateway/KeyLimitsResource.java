package dev.tokenmarket.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Directory;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.metering.MeteredGenerations;
import dev.tokenmarket.platform.Money;
import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/** A key's limits and its usage by day and model; for the key's own organization or an admin. */
@Path("/api/keys/{keyId}")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class KeyLimitsResource {

    private static final Set<String> RESETS = Set.of("never", "daily", "weekly", "monthly");
    /** The usage view covers at most this many days per call. */
    private static final int USAGE_DAYS_MAX = 366;

    @Inject
    KeyLimits keyLimits;

    @Inject
    CurrentCaller currentCaller;

    @Inject
    MeteredGenerations generations;

    @Inject
    Directory directory;

    @PUT
    @Path("/limits")
    public Map<String, Object> set(@PathParam("keyId") String keyId, JsonNode body) {
        UUID key = ownKey(keyId);
        if (body == null || !body.isObject()) {
            throw ApiException.invalid("body", "The request body must be a JSON object.");
        }
        Integer requests = positiveInt(body, "requests_per_minute");
        Integer tokens = positiveInt(body, "tokens_per_minute");
        Long spend = null;
        JsonNode spendNode = body.get("spend_limit");
        if (spendNode != null && !spendNode.isNull()) {
            if (!spendNode.isTextual()) {
                throw ApiException.invalid("spend_limit", "Field 'spend_limit' must be a USD amount as a string, such as \"5.00\".");
            }
            spend = Money.parseUsd(spendNode.asText(), "spend_limit");
        }
        String reset = body.hasNonNull("spend_limit_reset") ? body.get("spend_limit_reset").asText() : "never";
        if (!RESETS.contains(reset)) {
            throw ApiException.invalid("spend_limit_reset", "Field 'spend_limit_reset' must be one of never, daily, weekly, monthly.");
        }
        keyLimits.set(key, new KeyLimits.Limits(requests, tokens == null ? null : tokens.longValue(), spend, reset));
        return view(key);
    }

    @GET
    @Path("/limits")
    public Map<String, Object> get(@PathParam("keyId") String keyId) {
        return view(ownKey(keyId));
    }

    /** Spend and tokens of the key per UTC day and model, from the generation records. */
    @GET
    @Path("/usage")
    public Map<String, Object> usage(@PathParam("keyId") String keyId, @QueryParam("from") String from, @QueryParam("to") String to) {
        UUID key = ownKey(keyId);
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        LocalDate toDay = day(to, "to", today);
        LocalDate fromDay = day(from, "from", toDay.minusDays(29));
        if (fromDay.isAfter(toDay) || fromDay.plusDays(USAGE_DAYS_MAX).isBefore(toDay)) {
            throw ApiException.invalid("from", "'from' must be on or before 'to', at most " + USAGE_DAYS_MAX + " days apart.");
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (MeteredGenerations.DayUsage u : generations.usageOfKey(key, fromDay, toDay)) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("day", u.day().toString());
            row.put("model", u.model());
            row.put("requests", u.requests());
            row.put("prompt_tokens", u.promptTokens());
            row.put("completion_tokens", u.completionTokens());
            row.put("spend", Money.formatUsd(u.costNanoUsd()));
            rows.add(row);
        }
        return Map.of("key_id", key, "from", fromDay.toString(), "to", toDay.toString(), "data", rows);
    }

    private Map<String, Object> view(UUID key) {
        KeyLimits.Limits limits = keyLimits.limits(key);
        KeyLimits.Usage usage = keyLimits.usage(key);
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("key_id", key);
        view.put("requests_per_minute", limits.requestsPerMinute());
        view.put("tokens_per_minute", limits.tokensPerMinute());
        view.put("spend_limit", limits.spendLimitNanoUsd() == null ? null : Money.formatUsd(limits.spendLimitNanoUsd()));
        view.put("spend_limit_reset", limits.spendReset());
        Map<String, Object> current = new LinkedHashMap<>();
        current.put("requests_this_minute", usage.requestsThisMinute());
        current.put("tokens_this_minute", usage.tokensThisMinute());
        current.put("spend", Money.formatUsd(usage.spendNanoUsd()));
        current.put("spend_period_start", usage.spendWindowStart().toString());
        view.put("current", current);
        return view;
    }

    /** The key, when the caller's organization owns it or the caller is an admin; 404 for unknown keys. */
    private UUID ownKey(String keyId) {
        Caller caller = currentCaller.get();
        UUID key;
        try {
            key = UUID.fromString(keyId);
        } catch (IllegalArgumentException e) {
            throw new ApiException(ErrorCode.NOT_FOUND, "No key " + keyId + ".");
        }
        UUID owner = directory.ownerOfKey(key)
                .orElseThrow(() -> new ApiException(ErrorCode.NOT_FOUND, "No key " + keyId + "."));
        if (!caller.has(Role.ADMIN) && !owner.equals(caller.orgId())) {
            throw new ApiException(ErrorCode.FORBIDDEN, "Key " + keyId + " belongs to another organization.");
        }
        return key;
    }

    private static Integer positiveInt(JsonNode body, String field) {
        JsonNode node = body.get(field);
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() < 1) {
            throw ApiException.invalid(field, "Field '" + field + "' must be a positive integer, or null for no limit.");
        }
        return node.asInt();
    }

    private static LocalDate day(String value, String field, LocalDate fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return LocalDate.parse(value);
        } catch (DateTimeParseException e) {
            throw ApiException.invalid(field, "'" + field + "' must be a date such as 2026-01-31.");
        }
    }
}
