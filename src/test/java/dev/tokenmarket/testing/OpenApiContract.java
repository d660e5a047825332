package dev.tokenmarket.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.dialect.Dialects;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The HTTP contract, {@code contracts/openapi.yaml}, read as the tests need it: its operations, the schemas of
 * their request bodies and parameters, and a check of an answer against the operation's documented responses
 * (status, content type, and body against its JSON Schema 2020-12 schema, formats asserted).
 */
public final class OpenApiContract {

    /** Where the schema registry finds the document; only a name, nothing is fetched. */
    private static final String DOCUMENT_IRI = "https://tokenmarket.dev/contracts/openapi.json";
    private static final List<String> METHODS = List.of("get", "post", "put", "patch", "delete");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final JsonNode root;
    private final List<Operation> operations;
    private final SchemaRegistry registry;
    private final Map<String, Schema> schemas = new ConcurrentHashMap<>();

    /** One operation: its method (upper case), path template, id, and its node in the document. */
    public record Operation(String method, String path, String id, JsonNode node, String pointer, Pattern pathPattern) {

        public boolean isV1() {
            return path.startsWith("/v1/");
        }

        /** Its parameters, those of its path item first, each with {@code $ref} followed. */
        public List<JsonNode> parameters(OpenApiContract contract) {
            List<JsonNode> all = new ArrayList<>();
            JsonNode item = contract.root.path("paths").path(path);
            for (JsonNode level : List.of(item.path("parameters"), node.path("parameters"))) {
                level.forEach(parameter -> all.add(contract.resolve(parameter)));
            }
            return all;
        }

        /** The schema of its JSON request body, {@code $ref} followed, if it takes one. */
        public Optional<JsonNode> requestSchema(OpenApiContract contract) {
            JsonNode schema = node.path("requestBody").path("content").path("application/json").path("schema");
            return schema.isMissingNode() ? Optional.empty() : Optional.of(contract.resolve(schema));
        }

        public boolean requestBodyRequired() {
            return node.path("requestBody").path("required").asBoolean(false);
        }
    }

    private OpenApiContract(JsonNode root) {
        this.root = root;
        List<Operation> found = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> paths = root.path("paths").fields(); paths.hasNext(); ) {
            Map.Entry<String, JsonNode> item = paths.next();
            Pattern pattern = Pattern.compile(item.getKey().replaceAll("\\{[^/]+}", "[^/]+"));
            for (String method : METHODS) {
                JsonNode operation = item.getValue().path(method);
                if (!operation.isMissingNode()) {
                    found.add(new Operation(method.toUpperCase(Locale.ROOT), item.getKey(), operation.path("operationId").asText(),
                            operation, "/paths/" + escape(item.getKey()) + "/" + method, pattern));
                }
            }
        }
        this.operations = List.copyOf(found);
        String text;
        try {
            text = JSON.writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        this.registry = SchemaRegistry.withDialect(Dialects.getOpenApi31(), builder -> builder.schemas(Map.of(DOCUMENT_IRI, text)));
    }

    /** Reads the contract from the project's {@code contracts/} folder (the tests run in the project's directory). */
    public static OpenApiContract load() {
        try {
            return new OpenApiContract(new YAMLMapper().readTree(Files.readString(Path.of("contracts/openapi.yaml"))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public List<Operation> operations() {
        return operations;
    }

    public Operation operation(String id) {
        return operations.stream().filter(o -> o.id().equals(id)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no operation " + id + " in the contract"));
    }

    /** The operation a request names, if the contract has one: exact paths win over templates. */
    public Optional<Operation> match(String method, String path) {
        Optional<Operation> exact = operations.stream().filter(o -> o.method().equals(method) && o.path().equals(path)).findFirst();
        return exact.isPresent() ? exact : operations.stream()
                .filter(o -> o.method().equals(method) && o.pathPattern().matcher(path).matches()).findFirst();
    }

    /** The node, with a local {@code $ref} followed (repeatedly). */
    public JsonNode resolve(JsonNode node) {
        JsonNode current = node;
        for (int hops = 0; current.has("$ref") && hops < 10; hops++) {
            current = root.at(current.get("$ref").asText().substring(1));
        }
        return current;
    }

    /**
     * What is wrong with this answer to the operation, by its contract: empty when it agrees. The status must be
     * documented, the content type must be one the status documents, and a JSON body must validate against its
     * schema.
     */
    public List<String> violations(Operation operation, int status, String contentType, String body) {
        JsonNode responses = operation.node().path("responses");
        String statusKey = String.valueOf(status);
        String responsePointer = operation.pointer() + "/responses/" + statusKey;
        JsonNode response = responses.path(statusKey);
        if (response.isMissingNode()) {
            Optional<String> common = introductionResponse(operation, status);
            if (common.isEmpty()) {
                return List.of(operation.id() + ": status " + status + " is not documented; body " + abbreviate(body));
            }
            response = JSON.createObjectNode().put("$ref", "#/components/responses/" + common.get());
        }
        if (response.has("$ref")) {
            String ref = response.get("$ref").asText();
            responsePointer = ref.substring(1);
            response = resolve(response);
        }
        JsonNode content = response.path("content");
        if (content.isMissingNode() || content.isEmpty()) {
            return body == null || body.isEmpty() ? List.of()
                    : List.of(operation.id() + ": status " + status + " documents no body, got " + abbreviate(body));
        }
        String mediaType = contentType == null ? "" : contentType.split(";")[0].strip().toLowerCase(Locale.ROOT);
        if (!content.has(mediaType)) {
            return List.of(operation.id() + ": status " + status + " documents " + fieldNames(content) + ", got '" + mediaType
                    + "': " + abbreviate(body));
        }
        if (!mediaType.endsWith("json")) {
            return List.of();
        }
        String schemaPointer = responsePointer + "/content/" + escape(mediaType) + "/schema";
        JsonNode instance;
        try {
            instance = JSON.readTree(body);
        } catch (IOException e) {
            return List.of(operation.id() + ": status " + status + " body is not JSON: " + abbreviate(body));
        }
        Schema schema = schemas.computeIfAbsent(schemaPointer,
                pointer -> registry.getSchema(SchemaLocation.of(DOCUMENT_IRI + "#" + pointer)));
        // Formats (uuid, date-time, date, uri) are only annotations in 2020-12 unless asserted: the contract means them.
        List<Error> errors = schema.validate(instance, context -> context.executionConfig(config -> config.formatAssertionsEnabled(true)));
        return errors.stream().map(e -> operation.id() + ": " + status + " " + e.getInstanceLocation() + " " + e.getMessage()
                + " in " + abbreviate(body)).toList();
    }

    /**
     * The answers the contract's introduction documents for every operation rather than in each: 400 for bad input
     * (a control character in the path or a query, a field of the wrong type), 401 without a valid key, 403 without
     * the role, 404 for a path that does not match (such as an id that is not a UUID), and 415 for a body that is
     * not JSON where the operation takes one. A 500 is documented nowhere it is not listed: it is a bug.
     */
    private static Optional<String> introductionResponse(Operation operation, int status) {
        String prefix = operation.isV1() ? "V1" : "Api";
        return Optional.ofNullable(switch (status) {
            case 400 -> prefix + "BadRequest";
            case 401 -> prefix + "Unauthorized";
            case 403 -> prefix + "Forbidden";
            case 404 -> prefix + "NotFound";
            case 415 -> operation.node().has("requestBody") ? prefix + "UnsupportedMediaType" : null;
            default -> null;
        });
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }

    /** A JSON pointer token: '~' and '/' escaped. */
    public static String escape(String token) {
        return token.replace("~", "~0").replace("/", "~1");
    }

    static String abbreviate(String body) {
        if (body == null) {
            return "(none)";
        }
        return body.length() <= 600 ? body : body.substring(0, 600) + "…";
    }

    /** A deep copy of a JSON object as Jackson's tree, for building request bodies to alter. */
    public static ObjectNode tree(Object value) {
        return JSON.valueToTree(value);
    }
}
