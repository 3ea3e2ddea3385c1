package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every custom resource of both overlays against the CRD of the operator release docs/operations.md installs
 * (src/test/resources/crds, provenance in its README.md): Strimzi, KEDA, prometheus-operator.
 */
class CustomResourceSchemaTest {

    private static final Path CRDS = Repo.root().resolve("ops-tests/src/test/resources/crds");
    private static final Pattern DNS_SUBDOMAIN = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

    /** A vendored CRD: the schema of each served version, by version name. */
    record Crd(Path file, String group, String kind, Map<String, JsonNode> servedSchemas) {
    }

    /** Vendored CRDs by "group/kind". */
    static Map<String, Crd> crds() {
        Map<String, Crd> crds = new TreeMap<>();
        try (Stream<Path> files = Files.walk(CRDS)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
                for (JsonNode doc : Manifests.parseAll(Repo.read(f))) {
                    assertEquals("CustomResourceDefinition", doc.path("kind").asText(), f + " is not a CRD");
                    JsonNode spec = doc.path("spec");
                    Map<String, JsonNode> served = new TreeMap<>();
                    for (JsonNode v : spec.path("versions")) {
                        if (v.path("served").asBoolean()) {
                            served.put(v.path("name").asText(), v.path("schema").path("openAPIV3Schema"));
                        }
                    }
                    Crd crd = new Crd(f, spec.path("group").asText(), spec.path("names").path("kind").asText(), served);
                    assertTrue(crds.put(crd.group() + "/" + crd.kind(), crd) == null, "two CRDs for " + crd.kind());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return crds;
    }

    /** The problems of one custom resource against its CRD (empty when valid); CEL paths go to {@code cel}. */
    static List<String> problems(Map<String, Crd> crds, JsonNode doc, Consumer<String> cel) {
        String where = Manifests.describe(doc);
        String apiVersion = doc.path("apiVersion").asText();
        String group = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
        String version = apiVersion.substring(apiVersion.indexOf('/') + 1);
        List<String> problems = new ArrayList<>();
        Crd crd = crds.get(group + "/" + doc.path("kind").asText());
        if (crd == null) {
            problems.add(where + ": no vendored CRD for " + group + "/" + doc.path("kind").asText()
                    + " in ops-tests/src/test/resources/crds");
            return problems;
        }
        JsonNode schema = crd.servedSchemas().get(version);
        if (schema == null) {
            problems.add(where + ": " + apiVersion + " is not served by " + CRDS.relativize(crd.file())
                    + " (served: " + crd.servedSchemas().keySet() + ")");
            return problems;
        }
        // The API server validates metadata as ObjectMeta, not through the CRD schema (which says only "object").
        ObjectMeta meta = Manifests.strict(doc.path("metadata"), ObjectMeta.class);
        if (!DNS_SUBDOMAIN.matcher(meta.getName()).matches() || meta.getName().length() > 253) {
            problems.add(where + ": metadata.name is not a DNS subdomain");
        }
        ObjectNode body = doc.deepCopy();
        body.remove("metadata");
        OpenApiSchema.Result r = OpenApiSchema.validate(schema, body);
        r.problems().forEach(p -> problems.add(where + " (" + CRDS.relativize(crd.file()) + "): " + p));
        r.uncheckedCelPaths().forEach(p -> cel.accept(crd.kind() + p));
        return problems;
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyCustomResourceValidatesAgainstThePinnedCrdOfItsKind(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        Map<String, Crd> crds = crds();
        List<String> problems = new ArrayList<>();
        TreeSet<String> cel = new TreeSet<>();
        for (JsonNode doc : m.custom) {
            problems.addAll(problems(crds, doc, cel::add));
        }
        assertTrue(problems.isEmpty(), overlay + ": custom resources that the pinned CRDs reject:\n  "
                + String.join("\n  ", problems));
        assertFalse(m.custom("PodMonitor").isEmpty(), overlay + ": no PodMonitor validated");
        if (!cel.isEmpty()) {
            System.out.println(overlay + ": CEL rules not evaluated offline (x-kubernetes-validations) at " + cel);
        }
    }

    /** The validator is only worth its pass if it rejects what the API server rejects. */
    @Test
    void thePinnedCrdsRejectWhatTheApiServerWould() {
        Map<String, Crd> crds = crds();
        Map<String, String> bad = new TreeMap<>();
        bad.put("v1beta2 resource", """
                apiVersion: kafka.strimzi.io/v1beta2
                kind: KafkaTopic
                metadata: {name: t, labels: {strimzi.io/cluster: mav}}
                spec: {partitions: 1, replicas: 1}
                """);
        bad.put("Kafka replicas on the Kafka resource (gone in v1: node pools)", """
                apiVersion: kafka.strimzi.io/v1
                kind: Kafka
                metadata: {name: k}
                spec: {kafka: {replicas: 3, listeners: [{name: plain, port: 9092, type: internal, tls: false}]}}
                """);
        bad.put("listener port below 9092", """
                apiVersion: kafka.strimzi.io/v1
                kind: Kafka
                metadata: {name: k}
                spec: {kafka: {listeners: [{name: plain, port: 9091, type: internal, tls: false}]}}
                """);
        bad.put("partitions as text", """
                apiVersion: kafka.strimzi.io/v1
                kind: KafkaTopic
                metadata: {name: t}
                spec: {partitions: six, replicas: 3}
                """);
        bad.put("node pool without roles", """
                apiVersion: kafka.strimzi.io/v1
                kind: KafkaNodePool
                metadata: {name: p}
                spec: {replicas: 3, storage: {type: ephemeral}}
                """);
        bad.put("ScaledObject without triggers", """
                apiVersion: keda.sh/v1alpha1
                kind: ScaledObject
                metadata: {name: s}
                spec: {scaleTargetRef: {name: d}}
                """);
        bad.put("ScaledObject with a misspelt field", """
                apiVersion: keda.sh/v1alpha1
                kind: ScaledObject
                metadata: {name: s}
                spec: {scaleTargetRef: {name: d}, maxReplicas: 4, triggers: [{type: kafka, metadata: {topic: t}}]}
                """);
        bad.put("PrometheusRule rule without expr", """
                apiVersion: monitoring.coreos.com/v1
                kind: PrometheusRule
                metadata: {name: r}
                spec: {groups: [{name: g, rules: [{alert: A}]}]}
                """);
        bad.put("PodMonitor without selector", """
                apiVersion: monitoring.coreos.com/v1
                kind: PodMonitor
                metadata: {name: p}
                spec: {podMetricsEndpoints: [{port: http}]}
                """);
        bad.put("PodMonitor endpoint with a misspelt field", """
                apiVersion: monitoring.coreos.com/v1
                kind: PodMonitor
                metadata: {name: p}
                spec: {selector: {matchLabels: {a: b}}, podMetricsEndpoints: [{port: http, scrapeInterval: 15s}]}
                """);
        bad.put("PodMonitor interval that is no duration", """
                apiVersion: monitoring.coreos.com/v1
                kind: PodMonitor
                metadata: {name: p}
                spec: {selector: {matchLabels: {a: b}}, podMetricsEndpoints: [{port: http, interval: 15 seconds}]}
                """);
        bad.put("no CRD for the kind", """
                apiVersion: kafka.strimzi.io/v1
                kind: KafkaUser
                metadata: {name: u}
                spec: {}
                """);
        for (Map.Entry<String, String> e : bad.entrySet()) {
            JsonNode doc = Manifests.parseAll(e.getValue()).get(0);
            assertFalse(problems(crds, doc, p -> { }).isEmpty(), "accepted: " + e.getKey());
        }
        JsonNode good = Manifests.parseAll("""
                apiVersion: kafka.strimzi.io/v1
                kind: KafkaTopic
                metadata: {name: t, labels: {strimzi.io/cluster: mav}}
                spec: {topicName: mav.x, partitions: 6, replicas: 3, config: {retention.ms: 1000}}
                """).get(0);
        assertEquals(List.of(), problems(crds, good, p -> { }));
    }

    /** The CRD folders name the versions the guide installs, so the two cannot drift apart. */
    @Test
    void theVendoredCrdsAreOfTheVersionsTheGuideInstalls() throws IOException {
        String guide = Repo.read(Repo.root().resolve("docs/operations.md"));
        Map<String, String> chartOfFolder = Map.of(
                "strimzi-", "strimzi-kafka-operator --version ",
                "keda-", "kedacore/keda --version ");
        try (Stream<Path> dirs = Files.list(CRDS)) {
            List<String> folders = dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
            for (Map.Entry<String, String> e : chartOfFolder.entrySet()) {
                String folder = folders.stream().filter(f -> f.startsWith(e.getKey())).findFirst().orElse(null);
                assertNotNull(folder, "no CRD folder " + e.getKey() + "*");
                String version = folder.substring(e.getKey().length());
                Matcher pinned = Pattern.compile(Pattern.quote(e.getValue()) + "(\\S+)").matcher(guide);
                assertTrue(pinned.find(), "docs/operations.md does not install " + e.getValue() + "<version>");
                assertEquals(version, pinned.group(1), "docs/operations.md installs another version than the CRDs"
                        + " in " + folder);
            }
            // kube-prometheus-stack brings the operator: the guide pins the chart, the CRDs' README its operator release.
            String operator = folders.stream().filter(f -> f.startsWith("prometheus-operator-")).findFirst()
                    .map(f -> f.substring("prometheus-operator-".length())).orElse(null);
            assertNotNull(operator, "no CRD folder prometheus-operator-*");
            Matcher chart = Pattern.compile("kube-prometheus-stack --version (\\S+)").matcher(guide);
            assertTrue(chart.find(), "docs/operations.md does not install kube-prometheus-stack --version <version>");
            String ships = "kube-prometheus-stack " + chart.group(1) + " ships prometheus-operator v" + operator;
            assertTrue(Repo.read(CRDS.resolve("README.md")).contains(ships),
                    "ops-tests/src/test/resources/crds/README.md does not record: " + ships);
            assertTrue(guide.contains("prometheus-operator " + operator), "docs/operations.md does not name"
                    + " prometheus-operator " + operator);
        }
    }
}
