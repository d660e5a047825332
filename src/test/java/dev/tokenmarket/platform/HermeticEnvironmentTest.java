package dev.tokenmarket.platform;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The test JVMs see none of the application's variables, whatever the caller exported (.ci/run exports wrong
 * ones): Quarkus' environment config source would otherwise feed them into the tested application, and the
 * JVMs that tests start would inherit them.
 */
class HermeticEnvironmentTest {

    /** The names Quarkus' environment config source maps onto the application's properties. */
    private static final Pattern APPLICATION_VARIABLE = Pattern.compile("(tokenmarket|quarkus|kafka)[._-].*");

    @Test
    void shouldHideTheApplicationsVariablesFromTheTestJvm() {
        // Proves the environment the tests run in holds no TOKENMARKET_*, QUARKUS_* or KAFKA_* variable, in any form.
        List<String> leaked = System.getenv().keySet().stream()
                .filter(name -> APPLICATION_VARIABLE.matcher(name.toLowerCase(Locale.ROOT)).matches())
                .sorted().toList();
        assertEquals(List.of(), leaked, "variables of the caller's shell that reach the tested application");
    }
}
