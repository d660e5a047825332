package dev.tokenmarket.testing;

import io.restassured.RestAssured;
import io.restassured.http.ContentType;
import io.restassured.specification.RequestSpecification;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The packaged application ({@code target/quarkus-app}) in a process of its own, started the way the
 * README's first command starts it, for tests that restart it, stop it or kill it. The process gets an
 * allow-listed environment ({@link #INHERITED_VARIABLES}) plus what the test gives, so that the caller's
 * TOKENMARKET_*, QUARKUS_* and KAFKA_* variables never reach it.
 */
public final class PackagedApplication implements AutoCloseable {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    /** What the process keeps of the caller's environment: what a JVM and its child processes need to run. */
    public static final Set<String> INHERITED_VARIABLES = Set.of("PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG",
            "LANGUAGE", "TZ", "TMPDIR", "JAVA_HOME", "TERM");
    /** Locale variables (LC_ALL, LC_CTYPE, ...) are kept too. */
    private static final String LOCALE_VARIABLE_PREFIX = "LC_";

    private final int port;
    /** Health and metrics are served on the management interface, a port of its own. */
    private final int managementPort;
    private final Map<String, String> environment;
    private final List<String> systemProperties;
    private final List<String> output = new ArrayList<>();
    private Process process;

    /**
     * @param environment      set for the process (TOKENMARKET_* variables), over the allow-listed part of
     *                         the caller's environment: only what is given here configures the application
     * @param systemProperties Quarkus configuration passed as {@code -Dkey=value}
     */
    public PackagedApplication(Map<String, String> environment, Map<String, String> systemProperties) throws IOException {
        this.port = freePort();
        this.managementPort = freePort();
        this.environment = environment;
        this.systemProperties = systemProperties.entrySet().stream().map(e -> "-D" + e.getKey() + "=" + e.getValue()).toList();
    }

    public void start() throws IOException {
        Path app = Path.of(System.getProperty("tm.app.dir", "target/quarkus-app"), "quarkus-run.jar");
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-modules=jdk.incubator.vector");
        command.addAll(systemProperties);
        command.add("-jar");
        command.add(app.toString());
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().clear();
        builder.environment().putAll(inheritedEnvironment(System.getenv()));
        builder.environment().putAll(environment);
        builder.environment().put("TOKENMARKET_PORT", Integer.toString(port));
        builder.environment().put("TOKENMARKET_MANAGEMENT_PORT", Integer.toString(managementPort));
        synchronized (output) {
            output.clear();
        }
        process = builder.start();
        Process started = process;
        // A thread of its own: on two cores the common pool has one worker, which RestAssured's Groovy needs.
        Thread.ofPlatform().daemon().name("app-output").start(() -> {
            try (BufferedReader reader = new BufferedReader(new InputStreamReader(started.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    synchronized (output) {
                        output.add(line);
                    }
                    // Echoed so a failure's report shows what the application said.
                    System.out.println("[app] " + line);
                }
            } catch (IOException ignored) {
                // The process ended.
            }
        });
        try {
            awaitReady();
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("the application did not become ready:\n" + output(), e);
        }
    }

    /** The allow-listed part of {@code callerEnvironment}. */
    public static Map<String, String> inheritedEnvironment(Map<String, String> callerEnvironment) {
        Map<String, String> kept = new HashMap<>();
        callerEnvironment.forEach((name, value) -> {
            if (INHERITED_VARIABLES.contains(name) || name.startsWith(LOCALE_VARIABLE_PREFIX)) {
                kept.put(name, value);
            }
        });
        return kept;
    }

    private void awaitReady() {
        await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(250)).until(() -> {
            if (!process.isAlive()) {
                throw new AssertionError("the application exited:\n" + output());
            }
            try {
                HttpResponse<Void> ready = HTTP.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + managementPort + "/q/health/ready")).build(), HttpResponse.BodyHandlers.discarding());
                return ready.statusCode() == 200;
            } catch (IOException notYet) {
                return false;
            }
        });
    }

    /** What the process printed since its last start. */
    public String output() {
        synchronized (output) {
            return String.join("\n", output);
        }
    }

    public List<String> outputLines() {
        synchronized (output) {
            return List.copyOf(output);
        }
    }

    /** The address of {@code path} on the application, for clients other than RestAssured. */
    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    /** The address of {@code path} on the management interface (health, metrics). */
    public URI managementUri(String path) {
        return URI.create("http://127.0.0.1:" + managementPort + path);
    }

    /** The process id of the running application, or -1 when it is not running. */
    public long pid() {
        return process != null && process.isAlive() ? process.pid() : -1;
    }

    public RequestSpecification as(String key) {
        return RestAssured.given().baseUri("http://127.0.0.1").port(port)
                .header("Authorization", "Bearer " + key).contentType(ContentType.JSON);
    }

    /** An organization created with {@code adminKey}, with its first key. */
    public Market.Org org(String adminKey, String name, String... roles) {
        String id = as(adminKey).body(Map.of("name", name, "roles", List.of(roles)))
                .post("/api/orgs").then().statusCode(201).extract().path("id");
        io.restassured.path.json.JsonPath created = as(adminKey).body(Map.of("name", "test key"))
                .post("/api/orgs/" + id + "/keys").then().statusCode(201).extract().jsonPath();
        return new Market.Org(id, created.getString("key"), created.getString("id"));
    }

    /**
     * Flips the settlement switch with an admin key and, for a pause, waits until every consumer thread has
     * applied it (between batches), so that nothing settles from then on.
     */
    public void setSettlementPaused(String adminKey, boolean paused) throws InterruptedException {
        as(adminKey).post("/api/ledger/settlement/" + (paused ? "pause" : "resume")).then().statusCode(200);
        while (paused) {
            Map<String, Integer> replica = as(adminKey).get("/api/ledger/settlement").then().statusCode(200)
                    .extract().path("this_replica");
            if (replica.get("consumers_paused").equals(replica.get("consumers"))) {
                return;
            }
            Thread.sleep(50);
        }
    }

    /** A graceful stop (SIGTERM), as an operator stops it. */
    public void stop() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroy();
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor();
            }
            assertEquals(false, process.isAlive());
        }
        process = null;
    }

    /** SIGKILL: the process gets no chance to finish anything, as in a crash or an OOM kill. */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly().waitFor();
        }
        process = null;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }
}
