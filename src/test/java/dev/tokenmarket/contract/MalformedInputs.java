package dev.tokenmarket.contract;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tokenmarket.testing.OpenApiContract;
import dev.tokenmarket.testing.OpenApiContract.Operation;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Malformed variants of a valid request, derived from the operation's own schemas in the contract: for each field
 * of the body, values of the wrong JSON type, the field left out when it is required, every wrong form of a money
 * string, strings over their length or holding control characters, ids and dates that do not parse, values out of
 * their bounds or enum; for each query parameter the same, and {@code from} after {@code to}; path ids of the wrong
 * form; and bodies that are not JSON, empty, or sent as another content type.
 */
final class MalformedInputs {

    /** One altered request, what it alters, the field the answer must name (null: any or none), the statuses allowed. */
    record Mutation(String what, String field, Call call, Set<Integer> statuses) {
    }

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final Set<Integer> BAD_REQUEST = Set.of(400);
    /**
     * A path id of the wrong form leaves the path unmatched (404), per the contract's introduction, or, where the
     * operation reads the id itself, is a 400 naming it.
     */
    private static final Set<Integer> UNMATCHED = Set.of(400, 404);

    private final OpenApiContract contract;

    MalformedInputs(OpenApiContract contract) {
        this.contract = contract;
    }

    List<Mutation> of(Operation operation, Call valid) {
        List<Mutation> mutations = new ArrayList<>();
        parameters(operation, valid, mutations);
        operation.requestSchema(contract).ifPresent(schema -> body(operation, schema, valid, mutations));
        return mutations;
    }

    // ---------------------------------------------------------------- parameters

    private void parameters(Operation operation, Call valid, List<Mutation> out) {
        boolean hasFrom = false;
        boolean hasTo = false;
        for (JsonNode parameter : operation.parameters(contract)) {
            String name = parameter.path("name").asText();
            String in = parameter.path("in").asText();
            JsonNode schema = view(parameter.path("schema"));
            switch (in) {
                case "path" -> {
                    if ("uuid".equals(schema.path("format").asText())) {
                        out.add(new Mutation("path " + name + " not a UUID", null, valid.withPath(name, "not-a-uuid"), UNMATCHED));
                    }
                    out.add(new Mutation("path " + name + " with NUL", "path", valid.withPath(name, "a\u0000b"), BAD_REQUEST));
                    out.add(new Mutation("path " + name + " with a control character", "path",
                            valid.withPath(name, "a\u001bb"), BAD_REQUEST));
                }
                case "query" -> {
                    hasFrom |= name.equals("from");
                    hasTo |= name.equals("to");
                    for (Object wrong : wrongScalars(schema, name)) {
                        out.add(new Mutation("query " + name + "=" + printable(String.valueOf(wrong)), name,
                                valid.withQuery(name, String.valueOf(wrong)), BAD_REQUEST));
                    }
                    if (parameter.path("required").asBoolean(false)) {
                        out.add(new Mutation("query " + name + " missing", name, valid.withQuery(name, null), BAD_REQUEST));
                    }
                }
                case "header" -> {
                    if (parameter.path("required").asBoolean(false)) {
                        out.add(new Mutation("header " + name + " missing", name, valid.withHeader(name, null), BAD_REQUEST));
                    }
                    if (schema.has("maxLength")) {
                        out.add(new Mutation("header " + name + " over its length", name,
                                valid.withHeader(name, "k".repeat(schema.get("maxLength").asInt() + 1)), BAD_REQUEST));
                    }
                }
                default -> {
                }
            }
        }
        if (hasFrom && hasTo) {
            boolean days = operation.parameters(contract).stream().anyMatch(p -> p.path("name").asText().equals("from")
                    && "date".equals(view(p.path("schema")).path("format").asText()));
            String from = days ? "2026-12-02" : "2026-12-02T00:00:00Z";
            String to = days ? "2026-12-01" : "2026-12-01T00:00:00Z";
            out.add(new Mutation("from after to", null, valid.withQuery("from", from).withQuery("to", to), BAD_REQUEST));
        }
    }

    /** Query values that break the parameter's schema (a query value is always text, so "wrong type" is "does not parse"). */
    private static List<Object> wrongScalars(JsonNode schema, String name) {
        List<Object> wrong = new ArrayList<>();
        String type = schema.path("type").asText();
        String format = schema.path("format").asText();
        if (type.equals("integer") || type.equals("number")) {
            wrong.add("abc");
            if (type.equals("integer")) {
                wrong.add("1.5");
            }
            if (schema.has("minimum")) {
                wrong.add(schema.get("minimum").asLong() - 1);
            }
            if (schema.has("maximum")) {
                wrong.add(schema.get("maximum").asLong() + 1);
            }
            return wrong;
        }
        if (schema.has("enum")) {
            wrong.add("nope");
        }
        if (format.equals("uuid")) {
            wrong.add("not-a-uuid");
        }
        if (format.equals("date") || format.equals("date-time") || name.equals("from") || name.equals("to") || name.equals("hour")) {
            wrong.add("not-a-date");
            wrong.add("2026-02-30");
        }
        wrong.add("a\u0000b");
        return wrong;
    }

    // ---------------------------------------------------------------- body

    private void body(Operation operation, JsonNode schema, Call valid, List<Mutation> out) {
        JsonNode base = read(valid.body());
        out.add(new Mutation("body not JSON", null, valid.withBody(Call.JSON, "{\"not\": json"), BAD_REQUEST));
        if (operation.requestBodyRequired()) {
            out.add(new Mutation("body empty", null, valid.withBody(Call.JSON, ""), BAD_REQUEST));
        }
        out.add(new Mutation("body a JSON array", null, valid.withBody(Call.JSON, "[]"), BAD_REQUEST));
        out.add(new Mutation("body a JSON string", null, valid.withBody(Call.JSON, "\"text\""), BAD_REQUEST));
        out.add(new Mutation("body as text/plain", null, valid.withBody("text/plain", valid.body()), Set.of(415)));
        out.add(new Mutation("body as form data", null, valid.withBody("application/x-www-form-urlencoded", "a=b"), Set.of(415)));
        if (base.isObject()) {
            object(schema, "", (ObjectNode) base, base, valid, out);
        }
    }

    /** Every property the schema gives the object at {@code path} (present in the valid body or not). */
    private void object(JsonNode rawSchema, String path, ObjectNode at, JsonNode root, Call valid, List<Mutation> out) {
        JsonNode schema = view(rawSchema);
        Set<String> required = new LinkedHashSet<>();
        schema.path("required").forEach(r -> required.add(r.asText()));
        for (Iterator<Map.Entry<String, JsonNode>> properties = schema.path("properties").fields(); properties.hasNext(); ) {
            Map.Entry<String, JsonNode> property = properties.next();
            String name = property.getKey();
            String fieldPath = path.isEmpty() ? name : path + "." + name;
            JsonNode raw = property.getValue();
            JsonNode view = view(raw);
            if (view.path("readOnly").asBoolean(false)) {
                continue;
            }
            field(raw, view, fieldPath, required.contains(name), at, name, root, valid, out);
            JsonNode present = at.get(name);
            if (present != null && present.isObject() && !view.path("properties").isEmpty()) {
                object(raw, fieldPath, (ObjectNode) present, root, valid, out);
            }
            if (present != null && present.isArray() && !present.isEmpty() && present.get(0).isObject()) {
                JsonNode items = view.path("items");
                if (!view(items).path("properties").isEmpty()) {
                    object(items, fieldPath + "[0]", (ObjectNode) present.get(0), root, valid, out);
                }
            }
        }
    }

    private void field(JsonNode raw, JsonNode view, String path, boolean required, ObjectNode parent, String name,
                       JsonNode root, Call valid, List<Mutation> out) {
        Set<String> types = types(view);
        if (required) {
            out.add(replaced(root, parent, name, null, "missing", path, valid));
            if (!types.contains("null")) {
                out.add(replaced(root, parent, name, NODES.nullNode(), "null", path, valid));
            }
        }
        if (!types.isEmpty()) {
            for (JsonNode wrong : wrongTypes(types)) {
                out.add(replaced(root, parent, name, wrong, "of JSON type " + wrong.getNodeType(), path, valid));
            }
        }
        if (isMoney(raw)) {
            money(types, root, parent, name, path, valid, out);
            return;
        }
        if (types.contains("string")) {
            strings(view, root, parent, name, path, valid, out);
        }
        if (types.contains("integer") || types.contains("number")) {
            if (view.has("minimum")) {
                out.add(replaced(root, parent, name, NODES.numberNode(view.get("minimum").asLong() - 1), "below its minimum", path, valid));
            }
            if (view.has("exclusiveMinimum")) {
                out.add(replaced(root, parent, name, NODES.numberNode(view.get("exclusiveMinimum").asLong()), "at its exclusive minimum", path, valid));
            }
            if (view.has("maximum")) {
                out.add(replaced(root, parent, name, NODES.numberNode(view.get("maximum").asLong() + 1), "above its maximum", path, valid));
            }
        }
        if (types.contains("array")) {
            JsonNode present = parent.get(name);
            if (view.has("minItems") && view.get("minItems").asInt() > 0) {
                out.add(replaced(root, parent, name, NODES.arrayNode(), "empty", path, valid));
            }
            if (view.has("maxItems") && present != null && present.isArray() && !present.isEmpty()) {
                ArrayNode tooMany = NODES.arrayNode();
                for (int i = 0; i <= view.get("maxItems").asInt(); i++) {
                    tooMany.add(present.get(i % present.size()));
                }
                out.add(replaced(root, parent, name, tooMany, "over its maximum items", path, valid));
            }
        }
    }

    /** Every wrong form of a USD decimal string: sign, exponent, too many decimals, past nano-USD, empty, a JSON number. */
    private void money(Set<String> types, JsonNode root, ObjectNode parent, String name, String path, Call valid, List<Mutation> out) {
        for (String wrong : List.of("-1.00", "1e2", "1E-3", "0.0000000001", "9223372036.854775808", "99999999999999999999",
                "1000000001", "", "1,00", "NaN", "abc")) {
            out.add(replaced(root, parent, name, NODES.textNode(wrong), "money \"" + wrong + "\"", path, valid));
        }
        if (!types.contains("number")) {
            out.add(replaced(root, parent, name, NODES.numberNode(1.5), "money as a JSON number", path, valid));
        } else {
            out.add(replaced(root, parent, name, NODES.numberNode(-1), "money as a negative JSON number", path, valid));
        }
    }

    private void strings(JsonNode view, JsonNode root, ObjectNode parent, String name, String path, Call valid, List<Mutation> out) {
        if (view.has("maxLength")) {
            out.add(replaced(root, parent, name, NODES.textNode("x".repeat(view.get("maxLength").asInt() + 1)), "over its length", path, valid));
        }
        if (view.path("minLength").asInt(0) > 0) {
            out.add(replaced(root, parent, name, NODES.textNode(""), "empty", path, valid));
        }
        if (view.has("enum") || view.has("const")) {
            out.add(replaced(root, parent, name, NODES.textNode("nope"), "outside its enum", path, valid));
        }
        if (view.has("pattern")) {
            out.add(replaced(root, parent, name, NODES.textNode("not matching !"), "not matching its pattern", path, valid));
        }
        switch (view.path("format").asText()) {
            case "uuid" -> out.add(replaced(root, parent, name, NODES.textNode("not-a-uuid"), "not a UUID", path, valid));
            case "date-time" -> {
                out.add(replaced(root, parent, name, NODES.textNode("not-a-date"), "not a date-time", path, valid));
                out.add(replaced(root, parent, name, NODES.textNode("2026-13-45T99:61:00Z"), "an impossible date-time", path, valid));
            }
            case "uri" -> out.add(replaced(root, parent, name, NODES.textNode("not a url"), "not a URL", path, valid));
            default -> {
            }
        }
        JsonNode present = parent.get(name);
        String text = present != null && present.isTextual() ? present.asText() : "x";
        out.add(replaced(root, parent, name, NODES.textNode(text + "\u0000"), "with NUL", path, valid));
    }

    private static Mutation replaced(JsonNode root, ObjectNode parent, String name, JsonNode value, String what, String path, Call valid) {
        JsonNode previous = parent.get(name);
        if (value == null) {
            parent.remove(name);
        } else {
            parent.set(name, value);
        }
        String body = root.toString();
        if (previous == null) {
            parent.remove(name);
        } else {
            parent.set(name, previous);
        }
        return new Mutation(path + " " + what, path, valid.withBody(Call.JSON, body), BAD_REQUEST);
    }

    private static List<JsonNode> wrongTypes(Set<String> allowed) {
        List<JsonNode> wrong = new ArrayList<>();
        if (!allowed.contains("string")) {
            wrong.add(NODES.textNode("7"));
        }
        if (!allowed.contains("number") && !allowed.contains("integer")) {
            wrong.add(NODES.numberNode(7));
        }
        if (allowed.contains("integer") && !allowed.contains("number")) {
            wrong.add(NODES.numberNode(1.5));
        }
        if (!allowed.contains("boolean")) {
            wrong.add(NODES.booleanNode(true));
        }
        if (!allowed.contains("object")) {
            wrong.add(NODES.objectNode());
        }
        if (!allowed.contains("array")) {
            wrong.add(NODES.arrayNode().add("x"));
        }
        return wrong;
    }

    /** The JSON types a schema allows ({@code type}, else those of its {@code oneOf}/{@code anyOf} alternatives or const). */
    private Set<String> types(JsonNode view) {
        Set<String> types = new LinkedHashSet<>();
        JsonNode type = view.path("type");
        if (type.isTextual()) {
            types.add(type.asText());
        } else if (type.isArray()) {
            type.forEach(t -> types.add(t.asText()));
        } else if (view.has("const")) {
            types.add(view.get("const").isTextual() ? "string" : view.get("const").getNodeType().name().toLowerCase());
        } else if (view.has("enum")) {
            types.add("string");
        }
        for (String alternatives : List.of("oneOf", "anyOf")) {
            view.path(alternatives).forEach(alternative -> types.addAll(types(view(alternative))));
        }
        return types;
    }

    /** A money input: the contract's UsdAmountInput or PriceInput, possibly under allOf. */
    private boolean isMoney(JsonNode raw) {
        String ref = raw.path("$ref").asText();
        if (ref.endsWith("/UsdAmountInput") || ref.endsWith("/PriceInput")) {
            return true;
        }
        for (String combination : List.of("allOf", "oneOf")) {
            for (JsonNode part : raw.path(combination)) {
                if (isMoney(part)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The schema with {@code $ref} followed and {@code allOf} merged into one object (properties and required joined). */
    JsonNode view(JsonNode raw) {
        JsonNode resolved = contract.resolve(raw);
        if (!resolved.has("allOf")) {
            return resolved;
        }
        ObjectNode merged = NODES.objectNode();
        ObjectNode properties = NODES.objectNode();
        ArrayNode required = NODES.arrayNode();
        List<JsonNode> parts = new ArrayList<>();
        resolved.path("allOf").forEach(part -> parts.add(view(part)));
        parts.add(resolved);
        for (JsonNode part : parts) {
            for (Iterator<Map.Entry<String, JsonNode>> fields = part.fields(); fields.hasNext(); ) {
                Map.Entry<String, JsonNode> field = fields.next();
                switch (field.getKey()) {
                    case "allOf" -> {
                    }
                    case "properties" -> properties.setAll((ObjectNode) field.getValue());
                    case "required" -> field.getValue().forEach(required::add);
                    default -> merged.set(field.getKey(), field.getValue());
                }
            }
        }
        if (!properties.isEmpty()) {
            merged.set("properties", properties);
        }
        if (!required.isEmpty()) {
            merged.set("required", required);
        }
        return merged;
    }

    private static JsonNode read(String body) {
        try {
            return MAPPER.readTree(body);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String printable(String value) {
        return value.replace("\u0000", "\\u0000");
    }
}
