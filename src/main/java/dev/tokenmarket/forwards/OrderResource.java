package dev.tokenmarket.forwards;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
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
        return orders.amend(trading(), orderId(id), request);
    }

    @DELETE
    @Path("/orders/{id}")
    public OrderView cancel(@PathParam("id") String id) {
        return orders.cancel(trading(), orderId(id));
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
                                    @QueryParam("limit") @DefaultValue("100") int limit) {
        Caller caller = trading();
        if (status != null && !List.of("open", "filled", "cancelled", "rejected").contains(status)) {
            throw ApiException.invalid("status", "Query parameter 'status' must be open, filled, cancelled or rejected.");
        }
        Long instrumentId = instrument == null ? null : instruments.bySymbol(instrument).id();
        return Map.of("data", reads.orders(caller.orgId(), instrumentId, status, limit));
    }

    @GET
    @Path("/orders/{id}")
    public Map<String, Object> order(@PathParam("id") String id) {
        return reads.order(trading().orgId(), orderId(id));
    }

    @GET
    @Path("/fills")
    public Map<String, Object> fills(@QueryParam("instrument") String instrument, @QueryParam("limit") @DefaultValue("100") int limit) {
        Caller caller = trading();
        Long instrumentId = instrument == null ? null : instruments.bySymbol(instrument).id();
        return Map.of("data", reads.fills(caller.orgId(), instrumentId, limit));
    }

    @GET
    @Path("/positions")
    public Map<String, Object> positions() {
        return Map.of("data", reads.positions(trading().orgId()));
    }

    @GET
    @Path("/instruments/{symbol}/book")
    public ForwardReads.Book book(@PathParam("symbol") String symbol,
                                  @QueryParam("depth") @DefaultValue("" + ForwardReads.DEPTH_DEFAULT) int depth) {
        currentCaller.get().require(Role.TRADER, Role.PROVIDER, Role.BUYER, Role.FINANCE);
        return reads.book(instruments.bySymbol(symbol), depth);
    }

    @GET
    @Path("/instruments/{symbol}/trades")
    public Map<String, Object> trades(@PathParam("symbol") String symbol, @QueryParam("limit") @DefaultValue("50") int limit) {
        currentCaller.get().require(Role.TRADER, Role.PROVIDER, Role.BUYER, Role.FINANCE);
        return Map.of("data", reads.trades(instruments.bySymbol(symbol), limit));
    }

    private static long orderId(String id) {
        try {
            return Long.parseLong(id);
        } catch (NumberFormatException e) {
            throw ApiException.invalid("id", "An order id is the decimal number POST /api/forwards/orders answered, not \"" + id + "\".");
        }
    }
}
