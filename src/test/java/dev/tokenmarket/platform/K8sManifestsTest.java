package dev.tokenmarket.platform;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.tokenmarket.ledger.LedgerConsumer;
import dev.tokenmarket.metering.UsageEvent;
import io.quarkus.scheduler.Scheduled;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithName;
import io.smallrye.config.WithParentName;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.annotation.Annotation;
import java.lang.reflect.AnnotatedElement;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the schemas cannot check in the Kubernetes manifests (each overlay as {@code kubectl kustomize} renders it):
 * that every configuration key they set is one the application reads, that every secret key they read is provided,
 * that ports and probes are the application's, and that the sizes agree with each other. The keys the application
 * reads are derived from its code (its {@code @ConfigProperty}s, {@code @ConfigMapping}s and scheduler expressions)
 * and application.properties; no Quarkus starts.
 */
class K8sManifestsTest {

    private static final List<String> OVERLAYS = List.of("dev", "prod");
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    /** The variable prefixes of the application's configuration; Quarkus maps them onto its properties. */
    private static final Pattern APPLICATION_VARIABLE = Pattern.compile("(TOKENMARKET|QUARKUS|KAFKA)_.*");
    /**
     * Quarkus' own keys the manifests set that application.properties leaves at their defaults: the datasource
     * (from CloudNativePG's Secret) and the graceful shutdown's drain time.
     */
    private static final Set<String> QUARKUS_KEYS_AT_DEFAULT = Set.of("quarkus.datasource.jdbc.url",
            "quarkus.datasource.username", "quarkus.datasource.password", "quarkus.shutdown.timeout");
    /** Keys of the Secrets the operators make (CloudNativePG 1.30, Strimzi 1.2). */
    private static final Set<String> CNPG_APP_SECRET_KEYS = Set.of("username", "password", "host", "port", "dbname", "uri",
            "jdbc-uri", "pgpass", "fqdn-uri", "fqdn-jdbc-uri");
    private static final Set<String> STRIMZI_SCRAM_USER_SECRET_KEYS = Set.of("password", "sasl.jaas.config");
    private static final Set<String> STRIMZI_CA_CERT_SECRET_KEYS = Set.of("ca.crt", "ca.p12", "ca.password");

    private static Path root;
    private static Properties applicationProperties;
    private static Set<String> knownVariables;
    private static final Map<String, List<JsonNode>> rendered = new LinkedHashMap<>();

    @BeforeAll
    static void render() throws Exception {
        root = Path.of("").toAbsolutePath();
        applicationProperties = new Properties();
        try (InputStream in = Files.newInputStream(root.resolve("src/main/resources/application.properties"))) {
            applicationProperties.load(in);
        }
        knownVariables = knownVariables();
        for (String overlay : OVERLAYS) {
            rendered.put(overlay, kustomize(root.resolve("k8s/overlays/" + overlay)));
        }
    }

    @Test
    void shouldSetOnlyConfigurationKeysTheApplicationReads() {
        // Proves each variable of the app containers (env and envFrom ConfigMaps) is read by the application or the image.
        String dockerfile = read("src/main/docker/Dockerfile.jvm");
        forEachAppContainer((overlay, deployment, container) -> {
            for (String name : variables(overlay, container).keySet()) {
                String problem = unknownVariable(name, dockerfile);
                assertEquals(null, problem, overlay + " " + deployment + ": " + name);
            }
        });
    }

    @Test
    void shouldRejectAMisspeltKey() {
        // Proves the check of the test above fails a key no code reads, in each of the application's namespaces.
        String dockerfile = read("src/main/docker/Dockerfile.jvm");
        for (String misspelt : List.of("TOKENMARKET_ROUTING_CAPACITY_LEASE_TTLL", "QUARKUS_DATASOURCE_JDBC_MAXSIZE",
                "KAFKA_SASL_MECHANISMS", "KAFKA_TOPICS_CREATED", "JAVA_OPTIONS")) {
            assertTrue(unknownVariable(misspelt, dockerfile) != null, misspelt + " passes as a key the application reads");
        }
        for (String known : List.of("TOKENMARKET_ROUTING_CAPACITY_LEASE_TTL", "TOKENMARKET_FORWARDS_LEASE_TTL",
                "QUARKUS_DATASOURCE_JDBC_MAX_SIZE", "KAFKA_SASL_MECHANISM", "KAFKA_TOPICS_CREATE", "TOKENMARKET_ROLE",
                "TOKENMARKET_EMBEDDED", "TOKENMARKET_PORT", "JAVA_OPTS")) {
            assertEquals(null, unknownVariable(known, dockerfile), known);
        }
    }

    @Test
    void shouldRunEachRoleWithNothingEmbeddedAndEverySecretFromASecret() {
        // Proves each role has what it must (its role, embedded never, servers, credentials) and no secret is a literal.
        forEachAppContainer((overlay, deployment, container) -> {
            Map<String, JsonNode> variables = variables(overlay, container);
            String role = deployment.substring("tokenmarket-".length());
            assertEquals(role, literal(variables, "TOKENMARKET_ROLE"), overlay + " " + deployment);
            assertEquals("never", literal(variables, "TOKENMARKET_EMBEDDED"), overlay + " " + deployment);
            assertEquals("false", literal(variables, "TOKENMARKET_MODEL_DOWNLOAD"), "the model is never downloaded at start");
            assertTrue(literal(variables, "QUARKUS_DATASOURCE_JDBC_URL").startsWith("jdbc:postgresql://"), deployment);
            assertTrue(literal(variables, "KAFKA_BOOTSTRAP_SERVERS") != null, deployment);
            for (String secret : List.of("QUARKUS_DATASOURCE_USERNAME", "QUARKUS_DATASOURCE_PASSWORD", "KAFKA_SASL_JAAS_CONFIG",
                    "TOKENMARKET_ADMIN_KEY", "TOKENMARKET_SECRET_KEY")) {
                assertTrue(variables.get(secret) != null && variables.get(secret).path("valueFrom").has("secretKeyRef"),
                        overlay + " " + deployment + ": " + secret + " comes from a Secret");
            }
            variables.forEach((name, variable) -> assertTrue(!name.matches(".*(PASSWORD|SECRET|JAAS|_KEY)$")
                    || variable.path("valueFrom").has("secretKeyRef"), overlay + " " + deployment + ": " + name + " is a literal"));
        });
    }

    @Test
    void shouldProvideEverySecretKeyTheManifestsRead() {
        // Proves each Secret key referenced is made by an operator, rendered, or created by the README's first steps.
        Map<String, Set<String>> external = readmeSecrets();
        for (var overlay : rendered.entrySet()) {
            Map<String, Set<String>> provided = new HashMap<>(external);
            for (JsonNode doc : overlay.getValue()) {
                String name = doc.path("metadata").path("name").asText();
                switch (doc.path("kind").asText()) {
                    case "Secret" -> {
                        Set<String> keys = provided.computeIfAbsent(name, n -> new HashSet<>());
                        doc.path("data").fieldNames().forEachRemaining(keys::add);
                        doc.path("stringData").fieldNames().forEachRemaining(keys::add);
                    }
                    case "Cluster" -> provided.put(name + "-app", CNPG_APP_SECRET_KEYS);
                    case "KafkaUser" -> {
                        assertEquals("scram-sha-512", doc.path("spec").path("authentication").path("type").asText(), name);
                        provided.put(name, STRIMZI_SCRAM_USER_SECRET_KEYS);
                    }
                    case "Kafka" -> provided.put(name + "-cluster-ca-cert", STRIMZI_CA_CERT_SECRET_KEYS);
                    default -> {
                    }
                }
            }
            List<String[]> references = new ArrayList<>();
            overlay.getValue().forEach(doc -> secretReferences(doc, references));
            assertTrue(!references.isEmpty(), "the manifests read secrets");
            for (String[] reference : references) {
                assertTrue(provided.getOrDefault(reference[0], Set.of()).contains(reference[1]),
                        overlay.getKey() + ": Secret " + reference[0] + " key " + reference[1] + " is provided by nothing");
            }
        }
    }

    @Test
    void shouldProbeTheHealthPathsOnTheManagementPortAndExposeTheApplicationsPorts() {
        // Proves container ports, probes, Services, NetworkPolicies and monitors use the ports application.properties opens.
        String health = "/" + property("quarkus.http.non-application-root-path", "q") + "/"
                + property("quarkus.smallrye-health.root-path", "health");
        forEachAppContainer((overlay, deployment, container) -> {
            Map<String, JsonNode> variables = variables(overlay, container);
            int httpPort = port("quarkus.http.port", variables);
            int managementPort = port("quarkus.management.port", variables);
            assertEquals("true", applicationProperties.getProperty("quarkus.management.enabled"), "the management interface is on");
            Map<String, Integer> ports = containerPorts(container);
            assertEquals(managementPort, ports.get("management"), overlay + " " + deployment + " management port");
            if (deployment.endsWith("gateway")) {
                assertEquals(httpPort, ports.get("http"), overlay + " " + deployment + " http port");
            } else {
                assertEquals(null, ports.get("http"), "a settlement process opens no public HTTP port");
            }
            Map<String, String> probes = Map.of("startupProbe", "started", "livenessProbe", "live", "readinessProbe", "ready");
            probes.forEach((probe, check) -> {
                JsonNode get = container.path(probe).path("httpGet");
                assertEquals(health + "/" + check, get.path("path").asText(), overlay + " " + deployment + " " + probe);
                assertEquals(managementPort, resolve(get.path("port"), ports), overlay + " " + deployment + " " + probe + " port");
            });
        });
        for (var overlay : rendered.entrySet()) {
            for (JsonNode doc : overlay.getValue()) {
                String kind = doc.path("kind").asText();
                String where = overlay.getKey() + " " + kind + "/" + doc.path("metadata").path("name").asText();
                if (kind.equals("Service")) {
                    Map<String, Integer> ports = selectedPorts(overlay.getValue(), doc.path("spec").path("selector"));
                    assertTrue(!ports.isEmpty(), where + " selects an application pod");
                    doc.path("spec").path("ports").forEach(p -> assertTrue(resolve(p.path("targetPort"), ports) != null, where));
                } else if (kind.equals("NetworkPolicy") || kind.equals("PodMonitor")) {
                    JsonNode selector = kind.equals("PodMonitor") ? doc.path("spec").path("selector").path("matchLabels")
                            : doc.path("spec").path("podSelector").path("matchLabels");
                    Map<String, Integer> ports = selectedPorts(overlay.getValue(), selector);
                    if (ports.isEmpty()) {
                        continue;  // the operators' pods
                    }
                    List<JsonNode> used = new ArrayList<>();
                    doc.path("spec").path("ingress").forEach(rule -> rule.path("ports").forEach(p -> used.add(p.path("port"))));
                    doc.path("spec").path("podMetricsEndpoints").forEach(e -> used.add(e.path("port")));
                    used.forEach(p -> assertTrue(resolve(p, ports) != null, where + " port " + p));
                }
            }
            // Only the public port is open to all: the management port (metrics show revenue) is not.
            JsonNode gatewayPolicy = find(overlay.getValue(), "NetworkPolicy", "tokenmarket-gateway");
            for (JsonNode rule : gatewayPolicy.path("spec").path("ingress")) {
                if (!rule.has("from")) {
                    rule.path("ports").forEach(p -> assertEquals("http", p.path("port").asText(), "open to all: " + rule));
                }
            }
        }
    }

    @Test
    void shouldFitTheJvmToThePodsAndThePoolerToEveryConnectionPool() {
        // Proves the JVM options follow each pod's requests, and the pooler and PostgreSQL carry every pod's pool at the maxima.
        for (var overlay : rendered.entrySet()) {
            List<JsonNode> docs = overlay.getValue();
            int clientConnections = 0;
            for (String deployment : List.of("tokenmarket-gateway", "tokenmarket-settlement")) {
                JsonNode container = find(docs, "Deployment", deployment).path("spec").path("template").path("spec")
                        .path("containers").get(0);
                String where = overlay.getKey() + " " + deployment;
                JsonNode resources = container.path("resources");
                assertEquals(resources.path("requests").path("memory").asText(), resources.path("limits").path("memory").asText(),
                        where + ": the heap is a share of a memory the pod is sure to have");
                String javaOpts = literal(variables(overlay.getKey(), container), "JAVA_OPTS");
                int processors = (int) Math.ceil(cpu(resources.path("requests").path("cpu").asText()));
                assertTrue(javaOpts.contains("-XX:ActiveProcessorCount=" + processors), where + ": " + javaOpts + " for " + processors + " CPU");
                Matcher heap = Pattern.compile("-XX:MaxRAMPercentage=(\\d+)").matcher(javaOpts);
                assertTrue(heap.find() && Integer.parseInt(heap.group(1)) <= 75, where + ": room beside the heap: " + javaOpts);
                int poolMax = Integer.parseInt(literal(variables(overlay.getKey(), container), "QUARKUS_DATASOURCE_JDBC_MAX_SIZE"));
                clientConnections += replicasMax(docs, deployment) * poolMax;
            }
            JsonNode pooler = find(docs, "Pooler", "tokenmarket-db-pooler-rw").path("spec");
            assertEquals("session", pooler.path("pgbouncer").path("poolMode").asText(), "session-level advisory locks");
            int poolSize = pooler.path("pgbouncer").path("parameters").path("default_pool_size").asInt();
            assertTrue(poolSize >= clientConnections, overlay.getKey() + ": each pooler instance carries all "
                    + clientConnections + " connections, not " + poolSize);
            int maxConnections = find(docs, "Cluster", "tokenmarket-db").path("spec").path("postgresql").path("parameters")
                    .path("max_connections").asInt();
            assertTrue(pooler.path("instances").asInt() * poolSize <= maxConnections - 10,
                    overlay.getKey() + ": PostgreSQL takes every pooler instance's connections and keeps some for the operator");
        }
    }

    @Test
    void shouldDeclareEveryTopicOfTheContractAndGrantEachRoleWhatItDoes() throws Exception {
        // Proves each AsyncAPI channel is a KafkaTopic with its partitions, settlement never outscales them, and the ACLs fit.
        JsonNode channels = YAML.readTree(root.resolve("contracts/asyncapi.yaml").toFile()).path("channels");
        for (var overlay : rendered.entrySet()) {
            List<JsonNode> docs = overlay.getValue();
            Map<String, Integer> partitions = new HashMap<>();
            docs.stream().filter(d -> d.path("kind").asText().equals("KafkaTopic"))
                    .forEach(d -> partitions.put(d.path("spec").path("topicName").asText(), d.path("spec").path("partitions").asInt()));
            List<String> topics = new ArrayList<>();
            channels.forEach(channel -> {
                String topic = channel.path("address").asText();
                topics.add(topic);
                assertEquals(channel.path("bindings").path("kafka").path("partitions").asInt(), partitions.get(topic),
                        overlay.getKey() + ": KafkaTopic " + topic);
            });
            assertEquals(new TreeSet<>(topics), new TreeSet<>(partitions.keySet()), "a KafkaTopic for each topic, and no other");
            assertTrue(replicasMax(docs, "tokenmarket-settlement") <= partitions.get(UsageEvent.TOPIC),
                    overlay.getKey() + ": a settlement replica past the usage partitions would idle");
            for (JsonNode scaled : docs.stream().filter(d -> d.path("kind").asText().equals("ScaledObject")).toList()) {
                JsonNode trigger = scaled.path("spec").path("triggers").get(0).path("metadata");
                assertEquals(LedgerConsumer.GROUP_ID, trigger.path("consumerGroup").asText());
                assertEquals(UsageEvent.TOPIC, trigger.path("topic").asText());
            }
            // Every process checks at start that all topics exist; then each role uses its own.
            Map<String, List<String>> uses = Map.of(
                    "tokenmarket-gateway", List.of("topic " + UsageEvent.TOPIC + " Write"),
                    "tokenmarket-settlement", List.of("topic " + UsageEvent.TOPIC + " Read", "group " + LedgerConsumer.GROUP_ID + " Read",
                            "topic " + UsageEvent.DEAD_LETTER_TOPIC + " Write"));
            uses.forEach((user, needs) -> {
                Set<String> granted = new HashSet<>();
                find(docs, "KafkaUser", user).path("spec").path("authorization").path("acls").forEach(acl -> acl.path("operations")
                        .forEach(op -> granted.add(acl.path("resource").path("type").asText() + " "
                                + acl.path("resource").path("name").asText() + " " + op.asText())));
                topics.forEach(topic -> assertTrue(granted.contains("topic " + topic + " Describe"), user + " describes " + topic));
                needs.forEach(need -> assertTrue(granted.contains(need), overlay.getKey() + ": " + user + " may " + need));
            });
        }
    }

    // ------------------------------------------------------------------------------------------------------------

    private interface ContainerCheck {
        void check(String overlay, String deployment, JsonNode container);
    }

    private static void forEachAppContainer(ContainerCheck check) {
        rendered.forEach((overlay, docs) -> {
            List<JsonNode> deployments = docs.stream().filter(d -> d.path("kind").asText().equals("Deployment")).toList();
            assertEquals(2, deployments.size(), overlay + ": a gateway and a settlement Deployment");
            deployments.forEach(d -> d.path("spec").path("template").path("spec").path("containers")
                    .forEach(c -> check.check(overlay, d.path("metadata").path("name").asText(), c)));
        });
    }

    /** A container's variables by name (env over envFrom ConfigMaps); a ConfigMap's value as {@code {value: ...}}. */
    private static Map<String, JsonNode> variables(String overlay, JsonNode container) {
        Map<String, JsonNode> variables = new LinkedHashMap<>();
        container.path("envFrom").forEach(from -> {
            JsonNode map = find(rendered.get(overlay), "ConfigMap", from.path("configMapRef").path("name").asText());
            map.path("data").fields().forEachRemaining(e -> variables.put(e.getKey(), YAML.createObjectNode().set("value", e.getValue())));
        });
        container.path("env").forEach(e -> variables.put(e.path("name").asText(), e));
        return variables;
    }

    private static String literal(Map<String, JsonNode> variables, String name) {
        JsonNode variable = variables.get(name);
        return variable == null || !variable.has("value") ? null : variable.path("value").asText();
    }

    /** Why the application does not read {@code name}, or null when it does. */
    private static String unknownVariable(String name, String dockerfile) {
        if (!APPLICATION_VARIABLE.matcher(name).matches()) {
            return dockerfile.contains("$" + name) ? null : "neither the application nor the image's entrypoint reads it";
        }
        if (knownVariables.contains(name)) {
            return null;
        }
        String clientProperty = name.startsWith("KAFKA_") ? KafkaSettings.clientProperty(name) : null;
        if (clientProperty != null && (ProducerConfig.configNames().contains(clientProperty)
                || ConsumerConfig.configNames().contains(clientProperty) || AdminClientConfig.configNames().contains(clientProperty))) {
            return null;
        }
        return "no configuration key of the application, nor a Kafka client property";
    }

    /**
     * The variables the application reads: the environment form of every key its code and application.properties
     * name, and the variables application.properties and the entry point read by name.
     */
    private static Set<String> knownVariables() throws Exception {
        Set<String> keys = new TreeSet<>(QUARKUS_KEYS_AT_DEFAULT);
        Set<String> variables = new TreeSet<>(Set.of(Role.ENVIRONMENT_VARIABLE,
                dev.tokenmarket.platform.embedded.EmbeddedPolicy.ENVIRONMENT_VARIABLE));
        Pattern reference = Pattern.compile("\\$\\{([A-Za-z0-9_.\\-]+)");
        for (String name : applicationProperties.stringPropertyNames()) {
            keys.add(name.startsWith("%") ? name.substring(name.indexOf('.') + 1) : name);
            Matcher m = reference.matcher(applicationProperties.getProperty(name));
            while (m.find()) {
                variables.add(m.group(1));
            }
        }
        Path classes = Path.of(KafkaSettings.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> classNames;
        try (Stream<Path> files = Files.walk(classes)) {
            classNames = files.map(classes::relativize).map(Path::toString).filter(f -> f.endsWith(".class"))
                    .map(f -> f.substring(0, f.length() - ".class".length()).replace('/', '.')).toList();
        }
        assertTrue(classNames.size() > 100, "the application's classes are at " + classes);
        for (String className : classNames) {
            Class<?> type = Class.forName(className, false, K8sManifestsTest.class.getClassLoader());
            ConfigMapping mapping = type.getAnnotation(ConfigMapping.class);
            if (mapping != null) {
                mappingKeys(mapping.prefix(), type, keys);
            }
            List<AnnotatedElement> elements = new ArrayList<>(List.of(type.getDeclaredFields()));
            elements.addAll(List.of(type.getDeclaredMethods()));
            for (var constructor : type.getDeclaredConstructors()) {
                elements.addAll(List.of(constructor.getParameters()));
            }
            for (Method method : type.getDeclaredMethods()) {
                elements.addAll(List.of(method.getParameters()));
            }
            for (AnnotatedElement element : elements) {
                ConfigProperty property = element.getAnnotation(ConfigProperty.class);
                if (property != null) {
                    keys.add(property.name());
                }
                for (Annotation annotation : element.getAnnotations()) {
                    if (annotation instanceof Scheduled scheduled) {
                        for (String expression : List.of(scheduled.every(), scheduled.delayed(), scheduled.cron())) {
                            Matcher m = reference.matcher(expression);
                            while (m.find()) {
                                keys.add(m.group(1));
                            }
                        }
                    }
                }
            }
        }
        keys.forEach(key -> variables.add(key.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_")));
        return variables;
    }

    /** The keys of a {@code @ConfigMapping} interface: kebab-case method names, or their {@code @WithName}. */
    private static void mappingKeys(String prefix, Class<?> mapping, Set<String> keys) {
        for (Method method : mapping.getMethods()) {
            // A map under the prefix itself (KafkaSettings.keys) takes any key: the client properties, checked apart.
            if (method.isDefault() || Modifier.isStatic(method.getModifiers()) || method.getParameterCount() > 0
                    || method.isAnnotationPresent(WithParentName.class)) {
                continue;
            }
            WithName withName = method.getAnnotation(WithName.class);
            String name = withName != null ? withName.value() : method.getName().replaceAll("([a-z0-9])([A-Z])", "$1-$2").toLowerCase(Locale.ROOT);
            if (method.getReturnType().isInterface() && method.getReturnType().getPackageName().startsWith("dev.tokenmarket")) {
                mappingKeys(prefix + "." + name, method.getReturnType(), keys);
            } else {
                keys.add(prefix + "." + name);
            }
        }
    }

    /** The Secrets the README's first steps create: {@code kubectl create secret generic NAME --from-literal=KEY=...}. */
    private static Map<String, Set<String>> readmeSecrets() {
        String readme = read("k8s/README.md").replace("\\\n", " ");
        Map<String, Set<String>> secrets = new HashMap<>();
        Matcher command = Pattern.compile("kubectl[^\\n]* create secret generic (\\S+)([^\\n]*)").matcher(readme);
        while (command.find()) {
            Matcher key = Pattern.compile("--from-(?:literal|file)=([^=\\s]+)=").matcher(command.group(2));
            Set<String> keys = secrets.computeIfAbsent(command.group(1), n -> new HashSet<>());
            while (key.find()) {
                keys.add(key.group(1));
            }
        }
        assertTrue(!secrets.isEmpty(), "k8s/README.md creates the secrets no operator makes");
        return secrets;
    }

    /** Every (Secret, key) a document reads: Pod env, KEDA trigger authentication, backup credentials. */
    private static void secretReferences(JsonNode node, List<String[]> references) {
        if (node.isObject()) {
            node.fields().forEachRemaining(field -> {
                JsonNode value = field.getValue();
                switch (field.getKey()) {
                    case "secretKeyRef" -> references.add(new String[]{value.path("name").asText(), value.path("key").asText()});
                    case "secretTargetRef" -> value.forEach(t -> references.add(new String[]{t.path("name").asText(), t.path("key").asText()}));
                    case "s3Credentials" -> value.forEach(t -> references.add(new String[]{t.path("name").asText(), t.path("key").asText()}));
                    default -> secretReferences(value, references);
                }
            });
        } else if (node.isArray()) {
            node.forEach(child -> secretReferences(child, references));
        }
    }

    /** The port a property opens: {@code ${VARIABLE:default}} resolved against the container's variables. */
    private static int port(String property, Map<String, JsonNode> variables) {
        String envForm = property.toUpperCase(Locale.ROOT).replaceAll("[^A-Z0-9]", "_");
        if (literal(variables, envForm) != null) {
            return Integer.parseInt(literal(variables, envForm));
        }
        Matcher m = Pattern.compile("\\$\\{([A-Z0-9_]+):(\\d+)}").matcher(applicationProperties.getProperty(property));
        if (m.matches()) {
            String set = literal(variables, m.group(1));
            return Integer.parseInt(set != null ? set : m.group(2));
        }
        return Integer.parseInt(applicationProperties.getProperty(property));
    }

    private static String property(String name, String fallback) {
        return applicationProperties.getProperty(name, fallback).replaceAll("^/|/$", "");
    }

    private static Map<String, Integer> containerPorts(JsonNode container) {
        Map<String, Integer> ports = new HashMap<>();
        container.path("ports").forEach(p -> ports.put(p.path("name").asText(), p.path("containerPort").asInt()));
        return ports;
    }

    /** A port by name or number among {@code ports}; null when none is it. */
    private static Integer resolve(JsonNode port, Map<String, Integer> ports) {
        if (port.isInt()) {
            return ports.containsValue(port.asInt()) ? port.asInt() : null;
        }
        return ports.get(port.asText());
    }

    /** The ports of the application's pod templates that {@code matchLabels} selects. */
    private static Map<String, Integer> selectedPorts(List<JsonNode> docs, JsonNode matchLabels) {
        Map<String, Integer> ports = new HashMap<>();
        for (JsonNode doc : docs) {
            if (!doc.path("kind").asText().equals("Deployment")) {
                continue;
            }
            JsonNode template = doc.path("spec").path("template");
            boolean selected = matchLabels.size() > 0;
            for (var label : (Iterable<Map.Entry<String, JsonNode>>) matchLabels::fields) {
                selected &= label.getValue().asText().equals(template.path("metadata").path("labels").path(label.getKey()).asText());
            }
            if (selected) {
                template.path("spec").path("containers").forEach(c -> ports.putAll(containerPorts(c)));
            }
        }
        return ports;
    }

    /** The most replicas a Deployment runs: its HPA's or ScaledObject's maximum, or its fixed count. */
    private static int replicasMax(List<JsonNode> docs, String deployment) {
        for (JsonNode doc : docs) {
            JsonNode target = doc.path("spec").path("scaleTargetRef");
            if (target.path("name").asText().equals(deployment)) {
                if (doc.path("kind").asText().equals("ScaledObject")) {
                    return doc.path("spec").path("maxReplicaCount").asInt();
                }
                if (doc.path("kind").asText().equals("HorizontalPodAutoscaler")) {
                    return doc.path("spec").path("maxReplicas").asInt();
                }
            }
        }
        return find(docs, "Deployment", deployment).path("spec").path("replicas").asInt();
    }

    private static double cpu(String quantity) {
        return quantity.endsWith("m") ? Double.parseDouble(quantity.substring(0, quantity.length() - 1)) / 1000 : Double.parseDouble(quantity);
    }

    private static JsonNode find(List<JsonNode> docs, String kind, String name) {
        return docs.stream().filter(d -> d.path("kind").asText().equals(kind) && d.path("metadata").path("name").asText().equals(name))
                .findFirst().orElseThrow(() -> new AssertionError("no " + kind + "/" + name + " in the rendered manifests"));
    }

    private static String read(String path) {
        try {
            return Files.readString(root.resolve(path));
        } catch (IOException e) {
            throw new AssertionError("cannot read " + path, e);
        }
    }

    /** {@code kubectl kustomize} of a folder (kubectl is on these machines; .ci/run renders the same way). */
    private static List<JsonNode> kustomize(Path folder) throws Exception {
        Process process = new ProcessBuilder("kubectl", "kustomize", folder.toString()).redirectErrorStream(false).start();
        byte[] out = process.getInputStream().readAllBytes();
        String err = new String(process.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(process.waitFor(60, TimeUnit.SECONDS), "kubectl kustomize " + folder + " ended");
        assertEquals(0, process.exitValue(), "kubectl kustomize " + folder + ": " + err);
        List<JsonNode> docs = new ArrayList<>();
        try (var parser = YAML.getFactory().createParser(out)) {
            YAML.readValues(parser, JsonNode.class).forEachRemaining(d -> {
                if (d != null && !d.isNull() && !d.isMissingNode()) {
                    docs.add(d);
                }
            });
        }
        return docs;
    }
}
