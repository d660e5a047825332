package dev.tokenmarket.forwards;

import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.ResponseStatus;

import java.util.List;
import java.util.Map;

/** Admin lists forward products; everyone with a key sees products and instruments; admin halts and resumes. */
@Path("/api/forwards")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class ProductResource {

    private static final Role[] MARKET_ROLES = {Role.TRADER, Role.PROVIDER, Role.BUYER, Role.FINANCE};

    @Inject
    Products products;

    @Inject
    Instruments instruments;

    @Inject
    CurrentCaller currentCaller;

    @POST
    @Path("/products")
    @ResponseStatus(201)
    public ProductView list(Products.ListProduct request) {
        currentCaller.get().require(Role.ADMIN);
        Product product = products.list(request);
        instruments.schedule(java.time.Instant.now(), product);
        return ProductView.of(product);
    }

    @GET
    @Path("/products")
    public Map<String, List<ProductView>> products() {
        currentCaller.get().require(MARKET_ROLES);
        return Map.of("data", products.all().stream().map(ProductView::of).toList());
    }

    @GET
    @Path("/instruments")
    public Map<String, List<InstrumentView>> instruments(@QueryParam("state") String state, @QueryParam("product") String product) {
        currentCaller.get().require(MARKET_ROLES);
        Instrument.State wanted = null;
        if (state != null) {
            try {
                wanted = Instrument.State.fromWire(state);
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("state", "Query parameter 'state' must be listed, trading, halted, delivering or settled.");
            }
        }
        return Map.of("data", instruments.list(wanted, product).stream()
                .map(i -> InstrumentView.of(i, products.byId(i.productId()))).toList());
    }

    @GET
    @Path("/instruments/{symbol}")
    public InstrumentView instrument(@PathParam("symbol") String symbol) {
        currentCaller.get().require(MARKET_ROLES);
        Instrument i = instruments.bySymbol(symbol);
        return InstrumentView.of(i, products.byId(i.productId()));
    }

    @POST
    @Path("/instruments/{symbol}/halt")
    public InstrumentView halt(@PathParam("symbol") String symbol) {
        currentCaller.get().require(Role.ADMIN);
        Instrument i = instruments.setHalted(symbol, true);
        return InstrumentView.of(i, products.byId(i.productId()));
    }

    @POST
    @Path("/instruments/{symbol}/resume")
    public InstrumentView resume(@PathParam("symbol") String symbol) {
        currentCaller.get().require(Role.ADMIN);
        Instrument i = instruments.setHalted(symbol, false);
        return InstrumentView.of(i, products.byId(i.productId()));
    }
}
