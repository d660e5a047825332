package dev.tokenmarket.forwards;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.ResponseStatus;

import java.util.List;
import java.util.Map;

/** Traders, providers and buyers: orders, fills and positions of their own organization; the book and trades of any instrument. */
@Path("/api/forwards")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class OrderResource {

    private static final Role[] TRADING_ROLES = {Role.TRADER, Role.PROVIDER, Role.BUYER};

    @Inject
    ForwardOrders orders;

    @Inject
    ForwardReads reads;

    @Inject
    Instruments instruments;

    @Inject
    CurrentCaller currentCaller;

    private Caller trading() {
        Caller caller = currentCaller.get();
        caller.require(TRADING_ROLES);
        return caller;
    }

    @POST
    @Path("/orders")
    @ResponseStatus(201)
    public OrderView place(ForwardOrders.PlaceOrder request) {
        return orders.place(trading(), request);
    }

    @PATCH
    @Path("/orders/{id}")
    public OrderView amend(@PathParam("id") String id, ForwardOrders.AmendOrder request) {
        Caller caller = trading();
        return orders.amend(caller, ownOrderId(caller, id), request);
    }

    @DELETE
    @Path("/orders/{id}")
    public OrderView cancel(@PathParam("id") String id) {
        Caller caller = trading();
        return orders.cancel(caller, ownOrderId(caller, id));
    }

    /** Cancels the organization's resting orders on {@code instrument}, or on every instrument when it is left out. */
    @DELETE
    @Path("/orders")
    public Map<String, Object> cancelAll(@QueryParam("instrument") String instrument) {
        return Map.of("cancelled", orders.cancelAll(trading(), instrument));
    }

    @GET
    @Path("/orders")
    public Map<String, Object> list(@QueryParam("instrument") String instrument, @QueryParam("status") String status,
                                    @QueryParam("limit") String limit) {
        Caller caller = trading();
        if (status != null && !List.of("open", "filled", "cancelled", "rejected").contains(status)) {
            throw ApiException.invalid("status", "Query parameter 'status' must be open, filled, cancelled or rejected.");
        }
        Long instrumentId = instrument == null ? null : instruments.bySymbol(instrument).id();
        return Map.of("data", reads.orders(caller.orgId(), instrumentId, status, bounded(limit, "limit", ForwardReads.LIMIT_MAX, 100)));
    }

    @GET
    @Path("/orders/{id}")
    public Map<String, Object> order(@PathParam("id") String id) {
        Caller caller = trading();
        return reads.order(caller.orgId(), ownOrderId(caller, id));
    }

    @GET
    @Path("/fills")
    public Map<String, Object> fills(@QueryParam("instrument") String instrument, @QueryParam("limit") String limit) {
        Caller caller = trading();
        Long instrumentId = instrument == null ? null : instruments.bySymbol(instrument).id();
        return Map.of("data", reads.fills(caller.orgId(), instrumentId, bounded(limit, "limit", ForwardReads.LIMIT_MAX, 100)));
    }

    @GET
    @Path("/positions")
    public Map<String, Object> positions() {
        return Map.of("data", reads.positions(trading().orgId()));
    }

    @GET
    @Path("/instruments/{symbol}/book")
    public ForwardReads.Book book(@PathParam("symbol") String symbol,
                                  @QueryParam("depth") String depth) {
        currentCaller.get().require(Role.TRADER, Role.PROVIDER, Role.BUYER, Role.FINANCE);
        return reads.book(instruments.bySymbol(symbol), bounded(depth, "depth", ForwardReads.DEPTH_MAX, ForwardReads.DEPTH_DEFAULT));
    }

    @GET
    @Path("/instruments/{symbol}/trades")
    public Map<String, Object> trades(@PathParam("symbol") String symbol, @QueryParam("limit") String limit) {
        currentCaller.get().require(Role.TRADER, Role.PROVIDER, Role.BUYER, Role.FINANCE);
        return Map.of("data", reads.trades(instruments.bySymbol(symbol), bounded(limit, "limit", ForwardReads.LIMIT_MAX, 50)));
    }

    /** The order id, after refusing another organization's order with 403 (an admin acts only on its own orders too). */
    private long ownOrderId(Caller caller, String id) {
        long orderId = orderId(id);
        reads.requireOwnOrder(caller.orgId(), orderId);
        return orderId;
    }

    /** A query parameter of 1 to {@code max}, or {@code fallback} when it is left out: anything else is a 400 naming it. */
    private static int bounded(String value, String name, int max, int fallback) {
        if (value == null) {
            return fallback;
        }
        try {
            int parsed = Integer.parseInt(value);
            if (parsed >= 1 && parsed <= max) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // Answered below, as a value out of range is.
        }
        throw ApiException.invalid(name, "Query parameter '" + name + "' must be a whole number from 1 to " + max + "; got \"" + value + "\".");
    }

    private static long orderId(String id) {
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw ApiException.invalid("id", "An order id is the decimal number POST /api/forwards/orders answered, not \"" + id + "\".");
        }
    }
}
