package dev.tokenmarket.catalog;

import dev.tokenmarket.identity.Caller;
import dev.tokenmarket.identity.CurrentCaller;
import dev.tokenmarket.identity.Role;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PATCH;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.ResponseStatus;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/** Provider: list endpoints, change them, deactivate them. */
@Path("/api/endpoints")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class EndpointResource {

    @Inject
    EndpointService endpoints;

    @Inject
    CurrentCaller currentCaller;

    @POST
    @ResponseStatus(201)
    public EndpointView create(EndpointRequests.CreateEndpoint request) {
        Caller caller = currentCaller.get();
        caller.require(Role.PROVIDER);
        return EndpointView.of(endpoints.create(caller.orgId(), request));
    }

    @GET
    public Map<String, List<EndpointView>> list() {
        Caller caller = currentCaller.get();
        caller.require(Role.PROVIDER);
        return Map.of("data", endpoints.ownedBy(caller.orgId()).stream().map(EndpointView::of).toList());
    }

    @GET
    @Path("/{id}")
    public EndpointView get(@PathParam("id") UUID id) {
        return EndpointView.of(endpoints.owned(id, ownerFilter()));
    }

    @PATCH
    @Path("/{id}")
    public EndpointView update(@PathParam("id") UUID id, EndpointRequests.UpdateEndpoint request) {
        return EndpointView.of(endpoints.update(id, ownerFilter(), request));
    }

    @DELETE
    @Path("/{id}")
    public EndpointView deactivate(@PathParam("id") UUID id) {
        return EndpointView.of(endpoints.deactivate(id, ownerFilter()));
    }

    /** A provider acts on its own endpoints; an admin on any. */
    private UUID ownerFilter() {
        Caller caller = currentCaller.get();
        caller.require(Role.PROVIDER);
        return caller.has(Role.ADMIN) ? null : caller.orgId();
    }
}
