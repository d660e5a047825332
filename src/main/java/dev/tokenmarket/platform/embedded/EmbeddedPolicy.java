package dev.tokenmarket.platform.embedded;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code tokenmarket.embedded} ({@code TOKENMARKET_EMBEDDED}): whether this process may start an embedded
 * PostgreSQL and Kafka. With {@code auto}, each starts only when its server is not configured; with
 * {@code never}, a server that is not configured, or does not accept a connection, stops the start at once with
 * a message naming the setting to fix: a gateway replica must never run on a database of its own.
 */
public enum EmbeddedPolicy {
    AUTO, NEVER;

    public static final String PROPERTY = "tokenmarket.embedded";
    public static final String ENVIRONMENT_VARIABLE = "TOKENMARKET_EMBEDDED";
    /** How long a configured server has to accept a TCP connection when nothing embedded may replace it. */
    private static final int CONNECT_TIMEOUT_MS = 3_000;

    /** The policy named {@code value}; {@code fallback} when unset. */
    public static EmbeddedPolicy parse(String value, EmbeddedPolicy fallback) {
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            return valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(PROPERTY + " (" + ENVIRONMENT_VARIABLE + ") is '" + value
                    + "'; it must be auto or never.");
        }
    }

    /**
     * Under {@code never}: what is missing, as a message for the operator, or null when both servers are
     * configured and accept connections. Under {@code auto}: always null.
     */
    public String missing(String jdbcUrl, String kafkaBootstrapServers) {
        if (this == AUTO) {
            return null;
        }
        List<String> problems = new ArrayList<>();
        if (jdbcUrl == null) {
            problems.add("no PostgreSQL is configured: set QUARKUS_DATASOURCE_JDBC_URL (and QUARKUS_DATASOURCE_USERNAME, "
                    + "QUARKUS_DATASOURCE_PASSWORD)");
        } else {
            String unreachable = unreachable(postgresAddresses(jdbcUrl));
            if (unreachable != null) {
                problems.add("PostgreSQL at " + unreachable + " (QUARKUS_DATASOURCE_JDBC_URL) does not accept connections");
            }
        }
        if (kafkaBootstrapServers == null) {
            problems.add("no Kafka is configured: set KAFKA_BOOTSTRAP_SERVERS");
        } else {
            String unreachable = unreachable(List.of(kafkaBootstrapServers.split(",")));
            if (unreachable != null) {
                problems.add("no Kafka broker of " + kafkaBootstrapServers + " (KAFKA_BOOTSTRAP_SERVERS) accepts connections");
            }
        }
        if (problems.isEmpty()) {
            return null;
        }
        return "tokenmarket cannot start: " + String.join("; ", problems) + ". " + PROPERTY + " is never ("
                + ENVIRONMENT_VARIABLE + ", the default for the gateway and settlement roles), so nothing embedded "
                + "replaces them; set " + ENVIRONMENT_VARIABLE + "=auto only for a single local process.";
    }

    /** The host:port pairs of a PostgreSQL JDBC URL ({@code jdbc:postgresql://h1[:p1][,h2[:p2]]/db?...}). */
    static List<String> postgresAddresses(String jdbcUrl) {
        String rest = jdbcUrl.startsWith("jdbc:postgresql://") ? jdbcUrl.substring("jdbc:postgresql://".length()) : "";
        int end = rest.length();
        for (char c : new char[] {'/', '?'}) {
            int at = rest.indexOf(c);
            if (at >= 0 && at < end) {
                end = at;
            }
        }
        List<String> addresses = new ArrayList<>();
        for (String host : rest.substring(0, end).split(",")) {
            if (!host.isBlank()) {
                addresses.add(host.contains(":") && !host.endsWith("]") ? host : host + ":5432");
            }
        }
        return addresses.isEmpty() ? List.of("localhost:5432") : addresses;
    }

    /** Null when one of {@code addresses} accepts a TCP connection, else the first of them. */
    private static String unreachable(List<String> addresses) {
        for (String address : addresses) {
            String hostPort = address.strip();
            try (Socket socket = new Socket()) {
                URI uri = URI.create("tcp://" + hostPort);
                if (uri.getHost() == null || uri.getPort() < 0) {
                    continue;
                }
                socket.connect(new InetSocketAddress(uri.getHost(), uri.getPort()), CONNECT_TIMEOUT_MS);
                return null;
            } catch (IOException | IllegalArgumentException e) {
                // Try the next one.
            }
        }
        return addresses.getFirst().strip();
    }
}
