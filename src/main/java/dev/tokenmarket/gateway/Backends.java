package dev.tokenmarket.gateway;

import dev.tokenmarket.routing.Offer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.inject.Instance;
import jakarta.inject.Inject;

import java.util.HashMap;
import java.util.Map;

/** Every {@link Backend}, by the type an offer names. */
@ApplicationScoped
class Backends {

    private final Map<String, Backend> byType = new HashMap<>();

    @Inject
    Backends(Instance<Backend> backends) {
        for (Backend b : backends) {
            if (byType.put(b.type(), b) != null) {
                throw new IllegalStateException("two backends of type " + b.type());
            }
        }
    }

    /** The backend serving {@code offer}; the catalog lists no other types than those here. */
    Backend of(Offer offer) {
        Backend b = byType.get(offer.backendType());
        if (b == null) {
            throw new IllegalStateException("endpoint " + offer.endpointId() + " names backend type '" + offer.backendType()
                    + "', which this gateway does not have");
        }
        return b;
    }
}
