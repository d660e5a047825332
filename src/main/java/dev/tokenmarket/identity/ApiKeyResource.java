package dev.tokenmarket.identity;

import dev.tokenmarket.platform.error.ApiException;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.ResponseStatus;

import java.util.UUID;

/** The caller's own organization's API keys: list, create, show, revoke, rotate. An admin reaches every key. */
@Path("/api/keys")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class ApiKeyResource {

    public record RotateKey(Long graceSeconds) {
    }

    @Inject
    ApiKeyService keys;

    @Inject
    CurrentCaller caller;

    @GET
    public ApiKeyService.KeyPage list(@QueryParam("limit") String limit, @QueryParam("starting_after") String startingAfter) {
        Caller me = caller.get();
        return OrganizationResource.listKeys(keys, me, me.orgId(), limit, startingAfter);
    }

    @POST
    @ResponseStatus(201)
    public ApiKeyService.CreatedKey create(OrganizationResource.CreateKey request) {
        Caller me = caller.get();
        return OrganizationResource.createKey(keys, me, me.orgId(), request);
    }

    @GET
    @Path("/{keyId}")
    public ApiKeyService.KeyView get(@PathParam("keyId") UUID keyId) {
        return keys.get(caller.get(), keyId);
    }

    /** Revokes the key; it stays listed, with its usage, as revoked. Revoking it again changes nothing. */
    @DELETE
    @Path("/{keyId}")
    public ApiKeyService.KeyView revoke(@PathParam("keyId") UUID keyId) {
        return keys.revoke(caller.get(), keyId);
    }

    @POST
    @Path("/{keyId}/rotate")
    public ApiKeyService.RotatedKey rotate(@PathParam("keyId") UUID keyId, RotateKey request) {
        if (request == null) {
            throw ApiException.invalid("grace_seconds", "A JSON body {grace_seconds} is required: how long the current"
                    + " secret stays valid after the rotation, 0 to " + ApiKeyService.GRACE_SECONDS_MAX + " seconds.");
        }
        return keys.rotate(caller.get(), keyId, request.graceSeconds());
    }
}
