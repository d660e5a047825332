package dev.tokenmarket.identity;

import dev.tokenmarket.platform.ProcessRole;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.eclipse.microprofile.config.inject.ConfigProperty;

import java.util.Optional;

/** Makes sure an admin key exists and tells the operator where the marketplace answers and how to get in. */
@ApplicationScoped
public class StartupBanner {

    @Inject
    IdentityService identity;

    @ConfigProperty(name = "tokenmarket.admin-key")
    Optional<String> adminKey;

    @ConfigProperty(name = "quarkus.http.port")
    int port;

    @ConfigProperty(name = "quarkus.http.host", defaultValue = "0.0.0.0")
    String host;

    @Inject
    ProcessRole role;

    void onStart(@Observes StartupEvent event) {
        String generated = identity.ensureAdminKey(adminKey.orElse(null));
        String url = "http://" + ("0.0.0.0".equals(host) ? "localhost" : host) + ":" + port;
        StringBuilder banner = new StringBuilder("\n\n  tokenmarket is running ")
                .append(role.servesGateway() ? "at " + url : "without a public HTTP port, settling usage")
                .append(" (role ").append(role.role().configName()).append(")\n");
        if (generated != null) {
            banner.append("  admin key (shown once, stored hashed; set TOKENMARKET_ADMIN_KEY to choose your own):\n    ")
                    .append(generated).append('\n');
        } else if (adminKey.isPresent() && !adminKey.get().isBlank()) {
            banner.append("  admin key: the value of TOKENMARKET_ADMIN_KEY\n");
        } else {
            banner.append("  admin key: printed at the first start of this data directory; set TOKENMARKET_ADMIN_KEY to add one\n");
        }
        System.out.println(banner);
    }
}
