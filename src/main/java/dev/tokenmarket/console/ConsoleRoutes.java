package dev.tokenmarket.console;

import io.vertx.ext.web.Router;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * The web console is static files under {@code META-INF/resources/console/} that call the public API with
 * the key a person pastes in (held in the page's memory only). This only sends {@code /console} to the
 * console's folder, so that its relative links resolve; it is a plain HTTP route, outside the API's key check.
 */
@ApplicationScoped
public class ConsoleRoutes {

    void route(@Observes Router router) {
        // Vert.x matches "/console/" to this route too; that one is the static index page's.
        router.get("/console").handler(rc -> {
            if (rc.request().path().equals("/console")) {
                rc.redirect("/console/");
            } else {
                rc.next();
            }
        });
    }
}
