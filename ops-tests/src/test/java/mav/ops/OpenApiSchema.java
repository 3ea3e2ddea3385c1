package mav.ops;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Validates a value against a CRD's {@code openAPIV3Schema} the way the API server does for a structural schema:
 * types, required fields, enums, bounds, patterns, the logical junctors and the Kubernetes extensions. A field the
 * schema does not declare is an error (kubectl's default strict field validation rejects it; without it the
 * server would silently prune it). A schema keyword this class does not know is an error too, so a CRD using
 * something new fails loudly instead of passing unchecked. CEL rules ({@code x-kubernetes-validations}) are not
 * evaluated; their paths are collected for the caller to report.
 */
final class OpenApiSchema {

    private static final Set<String> KEYWORDS = Set.of("type", "properties", "additionalProperties", "required",
            "items", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
            "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "oneOf",
            "anyOf", "allOf", "not", "nullable", "format", "default", "description", "example", "title",
            "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-list-type",
            "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations",
            "x-kubernetes-embedded-resource");

    private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();

    private final List<String> problems = new ArrayList<>();
    private final Set<String> celPaths = new HashSet<>();

    private OpenApiSchema() {
    }

    /** Result of one validation: the errors (empty when valid) and the paths whose CEL rules were not run. */
    record Result(List<String> problems, Set<String> uncheckedCelPaths) {
    }

    static Result validate(JsonNode schema, JsonNode value) {
        OpenApiSchema v = new OpenApiSchema();
        v.check(schema, value, "", true);
        return new Result(v.problems, v.celPaths);
    }

    /**
     * @param declaring whether this schema's {@code properties} declare the fields of the value; false inside
     *     oneOf/anyOf/allOf/not, whose branches only constrain values declared elsewhere (structural schemas)
     */
    private void check(JsonNode schema, JsonNode value, String path, boolean declaring) {
        for (Iterator<String> it = schema.fieldNames(); it.hasNext(); ) {
            String keyword = it.next();
            if (!KEYWORDS.contains(keyword)) {
                problems.add(path + ": schema keyword '" + keyword + "' is not supported by this validator");
            }
        }
        if (schema.has("x-kubernetes-validations")) {
            celPaths.add(path.isEmpty() ? "/" : path);
        }
        if (value == null || value.isNull()) {
            if (!schema.path("nullable").asBoolean(false)) {
                problems.add(path + ": null is not allowed");
            }
            return;
        }
        if (schema.path("x-kubernetes-int-or-string").asBoolean(false)
                && !(value.isIntegralNumber() || value.isTextual())) {
            problems.add(path + ": must be an integer or a string, is " + value.getNodeType());
            return;
        }
        String type = schema.path("type").asText("");
        if (!type.isEmpty() && !hasType(value, type)) {
            problems.add(path + ": must be " + type + ", is " + describe(value));
            return;
        }
        if (schema.has("enum")) {
            boolean found = false;
            for (JsonNode e : schema.get("enum")) {
                found |= e.equals(value) || (e.isNumber() && value.isNumber() && e.asDouble() == value.asDouble());
            }
            if (!found) {
                problems.add(path + ": " + value + " is not one of " + schema.get("enum"));
            }
        }
        if (value.isNumber()) {
            checkNumber(schema, value, path);
        }
        if (value.isTextual()) {
            checkString(schema, value.asText(), path);
        }
        if (value.isArray()) {
            checkArray(schema, value, path, declaring);
        }
        if (value.isObject()) {
            checkObject(schema, value, path, declaring);
        }
        checkJunctors(schema, value, path);
    }

    private void checkJunctors(JsonNode schema, JsonNode value, String path) {
        for (JsonNode sub : schema.path("allOf")) {
            check(sub, value, path, false);
        }
        if (schema.has("anyOf")) {
            int valid = countValid(schema.get("anyOf"), value, path);
            if (valid == 0) {
                problems.add(path + ": matches none of anyOf " + schema.get("anyOf"));
            }
        }
        if (schema.has("oneOf")) {
            int valid = countValid(schema.get("oneOf"), value, path);
            if (valid != 1) {
                problems.add(path + ": must match exactly one of oneOf, matches " + valid + ": " + schema.get("oneOf"));
            }
        }
        if (schema.has("not")) {
            OpenApiSchema branch = new OpenApiSchema();
            branch.check(schema.get("not"), value, path, false);
            if (branch.problems.isEmpty()) {
                problems.add(path + ": must not match " + schema.get("not"));
            }
        }
    }

    private int countValid(JsonNode branches, JsonNode value, String path) {
        int valid = 0;
        for (JsonNode sub : branches) {
            OpenApiSchema branch = new OpenApiSchema();
            branch.check(sub, value, path, false);
            celPaths.addAll(branch.celPaths);
            if (branch.problems.isEmpty()) {
                valid++;
            } else if (branch.problems.stream().anyMatch(p -> p.contains("is not supported by this validator"))) {
                problems.addAll(branch.problems);
            }
        }
        return valid;
    }

    private void checkNumber(JsonNode schema, JsonNode value, String path) {
        double v = value.asDouble();
        if (schema.has("minimum")) {
            double min = schema.get("minimum").asDouble();
            boolean exclusive = schema.path("exclusiveMinimum").asBoolean(false);
            if (exclusive ? v <= min : v < min) {
                problems.add(path + ": " + value + " is below the minimum " + min);
            }
        }
        if (schema.has("maximum")) {
            double max = schema.get("maximum").asDouble();
            boolean exclusive = schema.path("exclusiveMaximum").asBoolean(false);
            if (exclusive ? v >= max : v > max) {
                problems.add(path + ": " + value + " is above the maximum " + max);
            }
        }
        if (schema.has("multipleOf") && Math.abs(Math.IEEEremainder(v, schema.get("multipleOf").asDouble())) > 1e-9) {
            problems.add(path + ": " + value + " is not a multiple of " + schema.get("multipleOf"));
        }
        String format = schema.path("format").asText("");
        if (format.equals("int32") && (!value.canConvertToInt())) {
            problems.add(path + ": " + value + " does not fit int32");
        }
        if (format.equals("int64") && (!value.canConvertToLong())) {
            problems.add(path + ": " + value + " does not fit int64");
        }
    }

    private void checkString(JsonNode schema, String s, String path) {
        if (schema.has("minLength") && s.length() < schema.get("minLength").asInt()) {
            problems.add(path + ": '" + s + "' is shorter than " + schema.get("minLength"));
        }
        if (schema.has("maxLength") && s.length() > schema.get("maxLength").asInt()) {
            problems.add(path + ": '" + s + "' is longer than " + schema.get("maxLength"));
        }
        if (schema.has("pattern")) {
            String regex = schema.get("pattern").asText();
            if (!PATTERNS.computeIfAbsent(regex, Pattern::compile).matcher(s).find()) {
                problems.add(path + ": '" + s + "' does not match " + regex);
            }
        }
    }

    private void checkArray(JsonNode schema, JsonNode value, String path, boolean declaring) {
        if (schema.has("minItems") && value.size() < schema.get("minItems").asInt()) {
            problems.add(path + ": fewer than " + schema.get("minItems") + " items");
        }
        if (schema.has("maxItems") && value.size() > schema.get("maxItems").asInt()) {
            problems.add(path + ": more than " + schema.get("maxItems") + " items");
        }
        String listType = schema.path("x-kubernetes-list-type").asText("");
        if (listType.equals("set") || schema.path("uniqueItems").asBoolean(false)) {
            Set<JsonNode> seen = new HashSet<>();
            value.forEach(item -> {
                if (!seen.add(item)) {
                    problems.add(path + ": duplicate item " + item);
                }
            });
        }
        if (listType.equals("map")) {
            Set<List<JsonNode>> keys = new HashSet<>();
            for (JsonNode item : value) {
                List<JsonNode> key = new ArrayList<>();
                schema.path("x-kubernetes-list-map-keys").forEach(k -> key.add(item.path(k.asText())));
                if (!keys.add(key)) {
                    problems.add(path + ": duplicate list-map key " + key);
                }
            }
        }
        if (schema.has("items")) {
            for (int i = 0; i < value.size(); i++) {
                check(schema.get("items"), value.get(i), path + "[" + i + "]", declaring);
            }
        }
    }

    private void checkObject(JsonNode schema, JsonNode value, String path, boolean declaring) {
        JsonNode properties = schema.path("properties");
        JsonNode additional = schema.get("additionalProperties");
        boolean preserve = schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
        for (JsonNode required : schema.path("required")) {
            if (!value.has(required.asText())) {
                problems.add(path + ": required field '" + required.asText() + "' is missing");
            }
        }
        if (schema.has("minProperties") && value.size() < schema.get("minProperties").asInt()) {
            problems.add(path + ": fewer than " + schema.get("minProperties") + " fields");
        }
        if (schema.has("maxProperties") && value.size() > schema.get("maxProperties").asInt()) {
            problems.add(path + ": more than " + schema.get("maxProperties") + " fields");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = value.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> field = it.next();
            String child = path + "/" + field.getKey();
            if (properties.has(field.getKey())) {
                check(properties.get(field.getKey()), field.getValue(), child, declaring);
            } else if (additional != null && additional.isObject()) {
                check(additional, field.getValue(), child, declaring);
            } else if (declaring && !preserve && !(additional != null && additional.asBoolean(false))) {
                problems.add(child + ": unknown field");
            }
        }
    }

    private static boolean hasType(JsonNode value, String type) {
        return switch (type) {
            case "object" -> value.isObject();
            case "array" -> value.isArray();
            case "string" -> value.isTextual();
            case "integer" -> value.isIntegralNumber();
            case "number" -> value.isNumber();
            case "boolean" -> value.isBoolean();
            default -> throw new IllegalArgumentException("unknown schema type " + type);
        };
    }

    private static String describe(JsonNode value) {
        String text = value.toString();
        return value.getNodeType().name().toLowerCase() + " " + (text.length() > 60 ? text.substring(0, 60) + "…" : text);
    }
}
