package dev.tokenmarket.identity;

import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.jboss.resteasy.reactive.ResponseStatus;

import java.util.List;
import java.util.UUID;

/** Admin: organizations and their API keys. */
@Path("/api/orgs")
@Consumes(MediaType.APPLICATION_JSON)
@Produces(MediaType.APPLICATION_JSON)
public class OrganizationResource {

    public record CreateOrganization(String name, List<String> roles) {
    }

    public record OrganizationView(UUID id, String name, List<String> roles) {
    }

    public record CreateKey(String name) {
    }

    /** The secret appears in this answer only; it is stored as a digest. */
    public record KeyView(UUID id, UUID orgId, String name, String key, String prefix) {
    }

    @Inject
    IdentityService identity;

    @Inject
    CurrentCaller caller;

    @POST
    @ResponseStatus(201)
    public OrganizationView create(CreateOrganization request) {
        caller.get().require(Role.ADMIN);
        if (request == null) {
            throw dev.tokenmarket.platform.error.ApiException.invalid("body", "A JSON body {name, roles} is required.");
        }
        Organization org = identity.createOrganization(request.name(), request.roles());
        return new OrganizationView(org.id, org.name, IdentityService.roleNames(org));
    }

    @POST
    @Path("/{orgId}/keys")
    @ResponseStatus(201)
    public KeyView createKey(@PathParam("orgId") UUID orgId, CreateKey request) {
        caller.get().require(Role.ADMIN);
        if (request == null) {
            throw dev.tokenmarket.platform.error.ApiException.invalid("body", "A JSON body {name} is required.");
        }
        IdentityService.CreatedKey key = identity.createKey(orgId, request.name());
        return new KeyView(key.id(), key.orgId(), key.name(), key.secret(), key.prefix());
    }
}
