package dev.tokenmarket.platform.embedded;

import dev.tokenmarket.platform.Role;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What an operator sees when a process may not start embedded servers, or names a role or policy wrongly. */
class EmbeddedPolicyTest {

    @Test
    void shouldNameEachMissingServerAndTheVariableToSetWhenNothingEmbeddedMayStart() {
        // Proves "never" refuses a start without servers, naming both variables, and "auto" refuses nothing.
        String message = EmbeddedPolicy.NEVER.missing(null, null);
        assertTrue(message.contains("no PostgreSQL is configured: set QUARKUS_DATASOURCE_JDBC_URL"), message);
        assertTrue(message.contains("no Kafka is configured: set KAFKA_BOOTSTRAP_SERVERS"), message);
        assertNull(EmbeddedPolicy.AUTO.missing(null, null));
    }

    @Test
    void shouldRefuseConfiguredServersThatDoNotAcceptConnections() throws IOException {
        // Proves "never" checks that a configured server answers: a closed port is named, an open one passes.
        int closedPort;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = socket.getLocalPort();
        }
        // Never accepted: a backlog large enough for each check's connection.
        try (ServerSocket open = new ServerSocket(0, 16, InetAddress.getLoopbackAddress())) {
            String openAddress = "127.0.0.1:" + open.getLocalPort();
            String message = EmbeddedPolicy.NEVER.missing("jdbc:postgresql://127.0.0.1:" + closedPort + "/tokenmarket", openAddress);
            assertTrue(message.contains("PostgreSQL at 127.0.0.1:" + closedPort + " (QUARKUS_DATASOURCE_JDBC_URL) does not accept"),
                    message);
            assertNull(EmbeddedPolicy.NEVER.missing("jdbc:postgresql://" + openAddress + "/tokenmarket?ssl=false", openAddress));
        }
    }

    @Test
    void shouldReadEveryHostOfAJdbcUrlWithPostgresDefaultPort() {
        // Proves the hosts checked are the URL's, with 5432 where the URL names no port.
        assertEquals(List.of("db1:5433", "db2:5432"), EmbeddedPolicy.postgresAddresses("jdbc:postgresql://db1:5433,db2/tm?ssl=true"));
        assertEquals(List.of("localhost:5432"), EmbeddedPolicy.postgresAddresses("jdbc:postgresql:///tm"));
    }

    @Test
    void shouldRefuseAnUnknownRoleOrPolicyWithTheValuesAllowed() {
        // Proves a typo in TOKENMARKET_ROLE or TOKENMARKET_EMBEDDED stops the start with what to write instead.
        assertEquals("tokenmarket.role (TOKENMARKET_ROLE) is 'gatway'; it must be gateway, settlement or all.",
                assertThrows(IllegalArgumentException.class, () -> Role.parse("gatway")).getMessage());
        assertEquals("tokenmarket.embedded (TOKENMARKET_EMBEDDED) is 'sometimes'; it must be auto or never.",
                assertThrows(IllegalArgumentException.class, () -> EmbeddedPolicy.parse("sometimes", EmbeddedPolicy.AUTO)).getMessage());
        assertEquals(Role.SETTLEMENT, Role.parse(" Settlement "));
        assertEquals(Role.ALL, Role.parse(null));
        assertEquals(EmbeddedPolicy.NEVER, EmbeddedPolicy.parse(null, EmbeddedPolicy.NEVER));
    }
}
