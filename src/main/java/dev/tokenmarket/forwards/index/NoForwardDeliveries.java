package dev.tokenmarket.forwards.index;

import io.quarkus.arc.DefaultBean;
import jakarta.enterprise.context.ApplicationScoped;

import java.util.Collection;
import java.util.Set;
import java.util.UUID;

/** No generation is delivered under a forward yet: there are no forward contracts. */
@DefaultBean
@ApplicationScoped
public class NoForwardDeliveries implements ForwardDeliveries {

    @Override
    public Set<UUID> deliveredUnderForwards(Collection<UUID> generationIds) {
        return Set.of();
    }
}
