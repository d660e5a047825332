package dev.tokenmarket.ledger;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The settlement switch, for operators: pause settlement of the usage feed on every replica (database
 * maintenance, an incident), see it with the consumer lag, and resume. While paused, requests are still
 * served and metered and their holds stay reserved: buyers cannot spend beyond their balance, they are
 * only billed later.
 */
@Path("/api/ledger/settlement")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class SettlementResource {

    private static final int REASON_LENGTH_MAX = 500;

    @Inject
    CurrentCaller currentCaller;

    @Inject
    SettlementPause pause;

    @Inject
    ConsumerLag consumerLag;

    @Inject
    LedgerConsumer consumer;

    /** {@code reason} is kept with the switch, for whoever looks next. */
    public record PauseRequest(String reason) {
    }

    @GET
    public Map<String, Object> state() {
        currentCaller.get().require(Role.FINANCE);
        return view(pause.state());
    }

    @POST
    @Path("/pause")
    public Map<String, Object> pause(PauseRequest request) {
        Caller caller = currentCaller.get();
        caller.require(Role.ADMIN);
        String reason = request == null ? null : request.reason();
        if (reason != null && reason.length() > REASON_LENGTH_MAX) {
            throw ApiException.invalid("reason", "The reason is " + reason.length() + " characters; at most "
                    + REASON_LENGTH_MAX + " are kept.");
        }
        return view(pause.set(true, reason, caller.keyId()));
    }

    @POST
    @Path("/resume")
    public Map<String, Object> resume() {
        Caller caller = currentCaller.get();
        caller.require(Role.ADMIN);
        return view(pause.set(false, null, caller.keyId()));
    }

    private Map<String, Object> view(SettlementPause.State state) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("paused", state.paused());
        view.put("reason", state.reason());
        view.put("changed_at", state.changedAt().toString());
        view.put("changed_by_key", state.changedBy());
        // A pause is in effect on this replica once every consumer thread has applied it (between batches).
        view.put("this_replica", Map.of("consumers", consumer.consumers(), "consumers_paused", consumer.consumersPaused()));
        view.put("consumer_lag", consumerLag.measure().view());
        return view;
    }
}
