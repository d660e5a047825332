package dev.tokenmarket.identity;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.inject.Inject;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

/** Every API call carries {@code Authorization: Bearer <key>}; this finds whose key it is. */
public class ApiKeyAuthFilter {

    private static final String BEARER = "Bearer ";
    private static final int KEY_LENGTH_MAX = 256;

    @Inject
    KeyAuthenticator authenticator;

    @Inject
    CurrentCaller currentCaller;

    @ServerRequestFilter
    public void authenticate(ContainerRequestContext request) {
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (header == null || header.isBlank()) {
            throw new ApiException(ErrorCode.UNAUTHENTICATED, "Missing API key: send 'Authorization: Bearer <key>'.");
        }
        if (!header.regionMatches(true, 0, BEARER, 0, BEARER.length())
                || header.length() - BEARER.length() > KEY_LENGTH_MAX) {
            throw new ApiException(ErrorCode.UNAUTHENTICATED, "The Authorization header must be 'Bearer <key>'.");
        }
        currentCaller.set(authenticator.authenticate(header.substring(BEARER.length()).strip()));
    }
}
