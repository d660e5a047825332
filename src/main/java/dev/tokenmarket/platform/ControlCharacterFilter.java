package dev.tokenmarket.platform;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.UriInfo;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.util.List;
import java.util.Map;

/**
 * Refuses a path or query parameter that holds a control character (NUL, line breaks, DEL, C1), on every
 * resource, before matching and before any key is looked up. No identifier, code or filter of this API holds
 * one; PostgreSQL refuses NUL in text outright (a 500 where a 400 is due), and the others would end up in logs
 * and statements as they are.
 */
public class ControlCharacterFilter {

    @ServerRequestFilter(preMatching = true)
    public void refuseControlCharacters(ContainerRequestContext request) {
        UriInfo uri = request.getUriInfo();
        if (hasControlCharacter(uri.getPath())) {
            throw new ApiException(ErrorCode.INVALID_REQUEST,
                    "The path holds a control character (such as %00); remove it.", "path");
        }
        for (Map.Entry<String, List<String>> parameter : uri.getQueryParameters(true).entrySet()) {
            String name = parameter.getKey();
            if (hasControlCharacter(name) || parameter.getValue().stream().anyMatch(ControlCharacterFilter::hasControlCharacter)) {
                String field = hasControlCharacter(name) ? "query" : name;
                throw new ApiException(ErrorCode.INVALID_REQUEST,
                        "Query parameter '" + field + "' holds a control character (such as %00); remove it.", field);
            }
        }
    }

    static boolean hasControlCharacter(String text) {
        for (int i = 0; i < text.length(); i++) {
            if (Character.isISOControl(text.charAt(i))) {
                return true;
            }
        }
        return false;
    }
}
