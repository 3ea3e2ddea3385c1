package mav.ops;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Rendered kustomize output, split into strictly parsed core objects (fabric8 models, generated from Kubernetes'
 * OpenAPI; any field the model does not know fails) and custom resources kept as JSON trees (KEDA, Strimzi,
 * prometheus-operator: validated against their pinned CRDs by CustomResourceSchemaTest, checked field by field
 * in the other tests).
 */
final class Manifests {

    static final YAMLMapper YAML = new YAMLMapper();
    static final ObjectMapper STRICT = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY)
            .build();

    /** Core kinds this project deploys, with their only accepted apiVersion and model class. */
    static final Map<String, Map.Entry<String, Class<? extends HasMetadata>>> CORE = Map.of(
            "Namespace", Map.entry("v1", Namespace.class),
            "ConfigMap", Map.entry("v1", ConfigMap.class),
            "Secret", Map.entry("v1", Secret.class),
            "Service", Map.entry("v1", Service.class),
            "PersistentVolumeClaim", Map.entry("v1", PersistentVolumeClaim.class),
            "Deployment", Map.entry("apps/v1", Deployment.class),
            "Job", Map.entry("batch/v1", Job.class),
            "ServiceAccount", Map.entry("v1", ServiceAccount.class),
            "PodDisruptionBudget", Map.entry("policy/v1", PodDisruptionBudget.class),
            "NetworkPolicy", Map.entry("networking.k8s.io/v1", NetworkPolicy.class));

    /** Custom resources this project deploys: kind to apiVersion (Strimzi >= 1.0 serves only v1). */
    static final Map<String, String> CUSTOM = Map.of(
            "ScaledObject", "keda.sh/v1alpha1",
            "Kafka", "kafka.strimzi.io/v1",
            "KafkaNodePool", "kafka.strimzi.io/v1",
            "KafkaTopic", "kafka.strimzi.io/v1",
            "PodMonitor", "monitoring.coreos.com/v1",
            "PrometheusRule", "monitoring.coreos.com/v1");

    final String overlay;
    final List<JsonNode> documents;
    final List<HasMetadata> core = new ArrayList<>();
    final List<JsonNode> custom = new ArrayList<>();

    private Manifests(String overlay, List<JsonNode> documents) {
        this.overlay = overlay;
        this.documents = documents;
        for (JsonNode doc : documents) {
            String kind = doc.path("kind").asText();
            String apiVersion = doc.path("apiVersion").asText();
            if (CORE.containsKey(kind)) {
                Map.Entry<String, Class<? extends HasMetadata>> expected = CORE.get(kind);
                if (!expected.getKey().equals(apiVersion)) {
                    throw new AssertionError(describe(doc) + ": apiVersion " + apiVersion + ", expected "
                            + expected.getKey());
                }
                core.add(strict(doc, expected.getValue()));
            } else if (CUSTOM.containsKey(kind)) {
                if (!CUSTOM.get(kind).equals(apiVersion)) {
                    throw new AssertionError(describe(doc) + ": apiVersion " + apiVersion + ", expected "
                            + CUSTOM.get(kind));
                }
                custom.add(doc);
            } else {
                throw new AssertionError(describe(doc) + ": kind not expected in " + overlay
                        + " (add it to Manifests.CORE or CUSTOM with its checks)");
            }
        }
    }

    /** Renders {@code k8s/overlays/<overlay>} with {@code kubectl kustomize}. */
    static Manifests render(Path kubectl, String overlay) {
        Path root = Repo.root();
        Tools.Result r = Tools.run(root, List.of(kubectl.toString(), "kustomize", "k8s/overlays/" + overlay));
        if (r.exitCode() != 0) {
            throw new AssertionError("kubectl kustomize k8s/overlays/" + overlay + " failed (" + r.exitCode() + "):\n"
                    + r.stderr());
        }
        return new Manifests(overlay, parseAll(r.stdout()));
    }

    static List<JsonNode> parseAll(String yaml) {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(yaml)) {
            while (it.hasNext()) {
                JsonNode doc = it.next();
                if (doc != null && !doc.isNull() && !doc.isEmpty()) {
                    docs.add(doc);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return docs;
    }

    /**
     * Parses {@code node} into a fabric8 model and fails on any field the model does not know. fabric8 models
     * collect unknown fields in {@code additionalProperties} instead of failing, so the parsed graph is walked
     * and every non-empty {@code additionalProperties} is reported with its path.
     */
    static <T> T strict(JsonNode node, Class<T> type) {
        T value;
        try {
            value = STRICT.treeToValue(node, type);
        } catch (IOException e) {
            throw new AssertionError(describe(node) + ": does not parse as " + type.getSimpleName() + ": "
                    + e.getMessage(), e);
        }
        List<String> unknown = new ArrayList<>();
        collectUnknown(value, type.getSimpleName(), unknown, Collections.newSetFromMap(new IdentityHashMap<>()));
        if (!unknown.isEmpty()) {
            throw new AssertionError(describe(node) + ": unknown fields " + unknown);
        }
        return value;
    }

    private static void collectUnknown(Object value, String path, List<String> unknown, Set<Object> seen) {
        if (value == null || value instanceof String || value instanceof Number || value instanceof Boolean
                || value instanceof Enum<?> || !seen.add(value)) {
            return;
        }
        if (value instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                collectUnknown(e.getValue(), path + "[" + e.getKey() + "]", unknown, seen);
            }
            return;
        }
        if (value instanceof Collection<?> list) {
            int i = 0;
            for (Object item : list) {
                collectUnknown(item, path + "[" + i++ + "]", unknown, seen);
            }
            return;
        }
        if (!value.getClass().getName().startsWith("io.fabric8.")) {
            return;
        }
        for (Method m : value.getClass().getMethods()) {
            if (m.getParameterCount() != 0 || Modifier.isStatic(m.getModifiers())
                    || !m.getName().startsWith("get") || m.getDeclaringClass() == Object.class) {
                continue;
            }
            Object child;
            try {
                child = m.invoke(value);
            } catch (IllegalAccessException | InvocationTargetException | RuntimeException e) {
                continue;
            }
            if (m.getName().equals("getAdditionalProperties")) {
                if (child instanceof Map<?, ?> extra && !extra.isEmpty()) {
                    unknown.add(path + ": " + extra.keySet());
                }
                continue;
            }
            String property = Character.toLowerCase(m.getName().charAt(3)) + m.getName().substring(4);
            collectUnknown(child, path + "." + property, unknown, seen);
        }
    }

    static String describe(JsonNode doc) {
        return doc.path("kind").asText("?") + "/" + doc.path("metadata").path("name").asText("?");
    }

    <T extends HasMetadata> List<T> all(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (HasMetadata o : core) {
            if (type.isInstance(o)) {
                out.add(type.cast(o));
            }
        }
        return out;
    }

    <T extends HasMetadata> T one(Class<T> type, String name) {
        return all(type).stream().filter(o -> name.equals(o.getMetadata().getName())).findFirst()
                .orElseThrow(() -> new AssertionError(overlay + ": no " + type.getSimpleName() + " " + name));
    }

    List<JsonNode> custom(String kind) {
        return custom.stream().filter(d -> kind.equals(d.path("kind").asText())).toList();
    }

    Map<String, JsonNode> customByName(String kind) {
        Map<String, JsonNode> out = new LinkedHashMap<>();
        for (JsonNode d : custom(kind)) {
            out.put(d.path("metadata").path("name").asText(), d);
        }
        return out;
    }
}
