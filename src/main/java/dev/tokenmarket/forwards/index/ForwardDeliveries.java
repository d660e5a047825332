package dev.tokenmarket.forwards.index;

import java.util.Collection;
import java.util.Set;
import java.util.UUID;

/**
 * Which generations were delivered under a forward contract: they are not spot sales, so the index leaves
 * them out. The forward market's delivery (routing at the forward's price) will answer this from its own
 * records; until it exists, {@link NoForwardDeliveries} says none were.
 */
public interface ForwardDeliveries {

    /** Those of {@code generationIds} that were delivered under a forward. */
    Set<UUID> deliveredUnderForwards(Collection<UUID> generationIds);
}
