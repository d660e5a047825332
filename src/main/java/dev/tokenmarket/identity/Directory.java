package dev.tokenmarket.identity;

import java.util.Collection;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * What other contexts ask identity about its organizations and keys, so that none of them reads the
 * {@code organizations} or {@code api_keys} tables.
 */
public interface Directory {

    /** The name of each of {@code orgIds} that exists; an unknown id is missing from the answer. */
    Map<UUID, String> organizationNames(Collection<UUID> orgIds);

    /** The organization that owns the key {@code keyId}; empty for an unknown key. */
    Optional<UUID> ownerOfKey(UUID keyId);
}
