package dev.tokenmarket.identity;

import dev.tokenmarket.platform.error.ApiException;
import dev.tokenmarket.platform.error.ErrorCode;

import java.util.Arrays;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

/** The authenticated organization behind a request, and the key it used. */
public record Caller(UUID orgId, UUID keyId, Set<Role> roles) {

    public boolean has(Role role) {
        return roles.contains(role);
    }

    /** Passes when the caller has any of {@code allowed}; admin passes everywhere. */
    public void require(Role... allowed) {
        if (roles.contains(Role.ADMIN)) {
            return;
        }
        for (Role role : allowed) {
            if (roles.contains(role)) {
                return;
            }
        }
        throw new ApiException(ErrorCode.FORBIDDEN, "This key's organization lacks the role this call needs ("
                + Arrays.stream(allowed).map(Role::wireName).collect(Collectors.joining(" or ")) + ").");
    }
}
