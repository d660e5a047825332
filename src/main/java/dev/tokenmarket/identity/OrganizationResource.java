package dev.tokenmarket.identity;

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
import java.util.UUID;

/** Organizations (admin) and an organization's API keys (the organization itself or an admin). */
@Path("/api/orgs")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class OrganizationResource {

    public record CreateOrganization(String name, List<String> roles) {
    }

    public record OrganizationView(UUID id, String name, List<String> roles) {
    }

    /** {@code expiresAt} is an RFC 3339 time; absent, the key does not expire. */
    public record CreateKey(String name, String label, String expiresAt) {
    }

    @Inject
    IdentityService identity;

    @Inject
    ApiKeyService keys;

    @Inject
    CurrentCaller caller;

    @POST
    @ResponseStatus(201)
    public OrganizationView create(CreateOrganization request) {
        caller.get().require(Role.ADMIN);
        if (request == null) {
            throw ApiException.invalid("body", "A JSON body {name, roles} is required.");
        }
        Organization org = identity.createOrganization(request.name(), request.roles());
        return new OrganizationView(org.id, org.name, IdentityService.roleNames(org));
    }

    @POST
    @Path("/{orgId}/keys")
    @ResponseStatus(201)
    public ApiKeyService.CreatedKey createKey(@PathParam("orgId") UUID orgId, CreateKey request) {
        return createKey(keys, caller.get(), orgId, request);
    }

    @GET
    @Path("/{orgId}/keys")
    public ApiKeyService.KeyPage listKeys(@PathParam("orgId") UUID orgId, @QueryParam("limit") String limit,
                                          @QueryParam("starting_after") String startingAfter) {
        return listKeys(keys, caller.get(), orgId, limit, startingAfter);
    }

    static ApiKeyService.CreatedKey createKey(ApiKeyService keys, Caller caller, UUID orgId, CreateKey request) {
        if (request == null) {
            throw ApiException.invalid("body", "A JSON body {name, label?, expires_at?} is required.");
        }
        return keys.create(caller, orgId, request.name(), request.label(), request.expiresAt());
    }

    static ApiKeyService.KeyPage listKeys(ApiKeyService keys, Caller caller, UUID orgId, String limit,
                                          String startingAfter) {
        Integer pageSize = null;
        if (limit != null) {
            try {
                pageSize = Integer.parseInt(limit);
            } catch (NumberFormatException e) {
                throw ApiException.invalid("limit", "Query parameter 'limit' must be an integer; got '" + limit + "'.");
            }
        }
        UUID after = null;
        if (startingAfter != null) {
            try {
                after = UUID.fromString(startingAfter);
            } catch (IllegalArgumentException e) {
                throw ApiException.invalid("starting_after", "Query parameter 'starting_after' must be a key id;"
                        + " got '" + startingAfter + "'.");
            }
        }
        return keys.list(caller, orgId, pageSize, after);
    }
}
