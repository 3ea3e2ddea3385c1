package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Renders k8s/overlays/cpu and k8s/overlays/gpu with {@code kubectl kustomize} and checks the objects against
 * each other and against the services' configuration (application.properties, docs/architecture.md).
 */
class KustomizeOverlaysTest {

    private static final Map<String, Manifests> RENDERED = new ConcurrentHashMap<>();

    /** Environment variables the stage images read besides the documented ones (deploy/docker/entrypoint.sh). */
    private static final Set<String> EXTRA_ENV = Set.of("MAV_MODELS_S3_URI", "MAV_MODELS_S3_INCLUDE",
            "MAV_MODELS_VERSION", "DJL_CACHE_DIR", "MC_CONFIG_DIR");

    static Manifests manifests(String overlay) {
        Optional<Path> kubectl = Tools.kubectl();
        assumeTrue(kubectl.isPresent(), "kubectl not found (PATH, $KUBECTL or ops-tests/target/tools/kubectl from "
                + "ops-tests/install-kubectl.sh): kustomize overlays not rendered, their checks skipped");
        String version = KUBECTL_VERSION.computeIfAbsent(kubectl.get(), KustomizeOverlaysTest::kustomizeVersion);
        assumeTrue(!version.isEmpty(), kubectl.get() + " has no kustomize v4+ (Debian's kubernetes-client is kubectl "
                + "1.20 with kustomize v2.0.3, which cannot read these kustomizations): run ops-tests/install-kubectl.sh "
                + "or set $KUBECTL; kustomize overlays not rendered, their checks skipped");
        return RENDERED.computeIfAbsent(overlay, o -> Manifests.render(kubectl.get(), o));
    }

    private static final Map<Path, String> KUBECTL_VERSION = new ConcurrentHashMap<>();

    /** The kustomize version kubectl embeds ("v5.5.0"), or "" when it has none or one older than v4. */
    static String kustomizeVersion(Path kubectl) {
        Tools.Result r = Tools.run(Repo.root(), List.of(kubectl.toString(), "version", "--client"));
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Kustomize Version: v(\\d+)[^\\s]*")
                .matcher(r.stdout());
        return m.find() && Integer.parseInt(m.group(1)) >= 4 ? m.group() : "";
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyObjectParsesStrictlyAndLivesInTheMavNamespace(String overlay) {
        Manifests m = manifests(overlay);
        assertFalse(m.core.isEmpty(), overlay + ": no objects rendered");
        Set<String> seen = new HashSet<>();
        for (JsonNode doc : m.documents) {
            String kind = doc.path("kind").asText();
            String name = doc.path("metadata").path("name").asText();
            assertFalse(name.isEmpty(), overlay + ": object without a name: " + doc);
            assertTrue(seen.add(kind + "/" + name), overlay + ": duplicate " + kind + "/" + name);
            if (!kind.equals("Namespace")) {
                assertEquals("mav", doc.path("metadata").path("namespace").asText(),
                        overlay + ": " + Manifests.describe(doc) + " is not in namespace mav");
            }
        }
        for (String kind : List.of("ScaledObject", "Kafka", "KafkaNodePool", "KafkaTopic", "PodMonitor",
                "PrometheusRule")) {
            assertFalse(m.custom(kind).isEmpty(), overlay + ": no " + kind);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void deploymentSelectorsMatchTheirPodsAndServicesSelectThemOnTheRightPort(String overlay) {
        Manifests m = manifests(overlay);
        for (Deployment d : m.all(Deployment.class)) {
            Map<String, String> selector = d.getSpec().getSelector().getMatchLabels();
            Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
            assertNotNull(selector, d.getMetadata().getName() + ": no matchLabels");
            assertTrue(d.getSpec().getSelector().getMatchExpressions() == null
                            || d.getSpec().getSelector().getMatchExpressions().isEmpty(),
                    d.getMetadata().getName() + ": matchExpressions are not checked here; use matchLabels");
            assertTrue(podLabels.entrySet().containsAll(selector.entrySet()),
                    overlay + ": " + d.getMetadata().getName() + " selector " + selector + " does not match pod labels "
                            + podLabels);
        }
        for (Service s : m.all(Service.class)) {
            List<Deployment> selected = m.all(Deployment.class).stream()
                    .filter(d -> selects(s.getSpec().getSelector(), d)).toList();
            assertFalse(selected.isEmpty(), overlay + ": Service " + s.getMetadata().getName() + " selects no pods");
            for (Deployment d : selected) {
                for (ServicePort port : s.getSpec().getPorts()) {
                    assertNotNull(containerPort(d, port.getTargetPort()), overlay + ": Service "
                            + s.getMetadata().getName() + " port " + port.getName() + " targets " + port.getTargetPort()
                            + ", which no container of " + d.getMetadata().getName() + " exposes");
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyStageHasDeploymentServiceProbesConfigAndCredentials(String overlay) {
        Manifests m = manifests(overlay);
        Set<String> configMaps = names(m.all(ConfigMap.class));
        assertTrue(configMaps.contains("mav-config"), overlay + ": no ConfigMap mav-config");

        for (Repo.Stage stage : Repo.stages()) {
            String where = overlay + ": " + stage.service() + " (expected from " + stage.source() + ")";
            Deployment d = m.one(Deployment.class, stage.service());
            Container c = stageContainer(d);
            ContainerPort http = c.getPorts().stream().filter(p -> "http".equals(p.getName())).findFirst()
                    .orElseThrow(() -> new AssertionError(where + ": no container port named http"));
            assertEquals(stage.port(), http.getContainerPort(), where + ": container port");
            assertEquals(String.valueOf(stage.port()), env(c, "QUARKUS_HTTP_PORT"), where + ": QUARKUS_HTTP_PORT");

            List<Service> services = m.all(Service.class).stream()
                    .filter(s -> selects(s.getSpec().getSelector(), d)).toList();
            assertEquals(1, services.size(), where + ": Services selecting it: " + names(services));
            Service svc = services.get(0);
            assertEquals(stage.service(), svc.getMetadata().getName(), where + ": Service name");
            ServicePort sp = svc.getSpec().getPorts().stream().filter(p -> p.getPort() == stage.port()).findFirst()
                    .orElseThrow(() -> new AssertionError(where + ": Service has no port " + stage.port()));
            ContainerPort target = containerPort(d, sp.getTargetPort());
            assertNotNull(target, where + ": Service port " + stage.port() + " targets nothing");
            assertEquals(stage.port(), target.getContainerPort(), where + ": Service targets the wrong container port");

            assertProbe(where + " startupProbe", c.getStartupProbe(), "/q/health/started", d);
            assertProbe(where + " readinessProbe", c.getReadinessProbe(), "/q/health/ready", d);
            assertProbe(where + " livenessProbe", c.getLivenessProbe(), "/q/health/live", d);

            List<EnvFromSource> envFrom = c.getEnvFrom();
            assertTrue(envFrom.stream().anyMatch(e -> e.getConfigMapRef() != null
                    && "mav-config".equals(e.getConfigMapRef().getName())), where + ": no envFrom ConfigMap mav-config");
            assertTrue(envFrom.stream().anyMatch(e -> e.getSecretRef() != null
                    && "mav-s3".equals(e.getSecretRef().getName())), where + ": no envFrom Secret mav-s3");

            Map<String, Quantity> requests = c.getResources().getRequests();
            Map<String, Quantity> limits = c.getResources().getLimits();
            assertNotNull(requests, where + ": no resource requests");
            assertNotNull(limits, where + ": no resource limits");
            for (String r : List.of("cpu", "memory")) {
                assertTrue(requests.containsKey(r), where + ": no " + r + " request");
                assertTrue(limits.containsKey(r), where + ": no " + r + " limit");
                assertTrue(Quantity.getAmountInBytes(requests.get(r)).compareTo(
                        Quantity.getAmountInBytes(limits.get(r))) <= 0, where + ": " + r + " request above limit");
            }
            assertNull(d.getSpec().getReplicas(), where + ": replicas is set; KEDA owns the replica count");
            Set<String> envNames = new HashSet<>();
            for (EnvVar e : c.getEnv()) {
                assertTrue(envNames.add(e.getName()), where + ": env " + e.getName() + " set twice");
            }
            assertTrue(d.getSpec().getTemplate().getSpec().getSecurityContext().getRunAsNonRoot(),
                    where + ": not runAsNonRoot");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void configMapHoldsOnlyDocumentedSettings(String overlay) {
        Manifests m = manifests(overlay);
        Set<String> allowed = new TreeSet<>(Repo.documentedEnv());
        assertTrue(allowed.contains("KAFKA_BOOTSTRAP_SERVERS"), "docs/architecture.md configuration table not found");
        allowed.addAll(EXTRA_ENV);
        ConfigMap config = m.one(ConfigMap.class, "mav-config");
        for (String key : config.getData().keySet()) {
            assertTrue(allowed.contains(key), overlay + ": mav-config key " + key
                    + " is neither in docs/architecture.md nor read by the image's entrypoint");
        }
        assertEquals("mav.", config.getData().get("MAV_TOPIC_PREFIX"), overlay + ": MAV_TOPIC_PREFIX");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void scaledObjectsTargetTheStagesWithTheirGroupAndInputTopic(String overlay) {
        Manifests m = manifests(overlay);
        Map<String, JsonNode> scaled = m.customByName("ScaledObject");
        Set<String> deployments = names(m.all(Deployment.class));
        String bootstrap = kafkaBootstrap(m);
        for (JsonNode so : scaled.values()) {
            String target = so.path("spec").path("scaleTargetRef").path("name").asText();
            assertTrue(deployments.contains(target), overlay + ": ScaledObject " + Manifests.describe(so)
                    + " targets missing Deployment " + target);
            String kind = so.path("spec").path("scaleTargetRef").path("kind").asText("Deployment");
            assertEquals("Deployment", kind, overlay + ": ScaledObject target kind");
        }
        Map<String, Integer> partitions = topicPartitions(m);
        for (Repo.Stage stage : Repo.stages()) {
            String where = overlay + ": ScaledObject of " + stage.service() + " (expected from " + stage.source() + ")";
            JsonNode so = scaled.values().stream()
                    .filter(s -> stage.service().equals(s.path("spec").path("scaleTargetRef").path("name").asText()))
                    .findFirst().orElseThrow(() -> new AssertionError(where + ": none targets the Deployment"));
            JsonNode spec = so.path("spec");
            JsonNode triggers = spec.path("triggers");
            assertEquals(1, triggers.size(), where + ": triggers");
            JsonNode trigger = triggers.get(0);
            assertEquals("kafka", trigger.path("type").asText(), where + ": trigger type");
            JsonNode md = trigger.path("metadata");
            for (String field : List.of("bootstrapServers", "consumerGroup", "topic", "lagThreshold",
                    "activationLagThreshold")) {
                assertTrue(md.path(field).isTextual() && !md.path(field).asText().isBlank(),
                        where + ": trigger metadata." + field + " missing or not a string");
            }
            assertEquals(stage.group(), md.path("consumerGroup").asText(), where + ": consumerGroup");
            assertEquals(stage.inputTopic(), md.path("topic").asText(), where + ": topic");
            assertTrue(Integer.parseInt(md.path("lagThreshold").asText()) > 0, where + ": lagThreshold must be > 0");
            Integer.parseInt(md.path("activationLagThreshold").asText());
            String servers = md.path("bootstrapServers").asText();
            assertTrue(servers.startsWith(bootstrap + ".") || servers.startsWith(bootstrap + ":"),
                    where + ": bootstrapServers " + servers + " is not the Kafka cluster's bootstrap service "
                            + bootstrap);
            assertEquals("earliest", md.path("offsetResetPolicy").asText("latest"),
                    where + ": offsetResetPolicy must match the services' auto.offset.reset=earliest");

            assertTrue(spec.path("minReplicaCount").isInt(), where + ": minReplicaCount not an integer");
            assertTrue(spec.path("maxReplicaCount").isInt(), where + ": maxReplicaCount not an integer");
            int min = spec.path("minReplicaCount").asInt();
            int max = spec.path("maxReplicaCount").asInt();
            assertTrue(max >= Math.max(1, min), where + ": maxReplicaCount " + max + " < minReplicaCount " + min);
            if (stage.gpu()) {
                assertEquals(0, min, where + ": GPU stages scale to zero (minReplicaCount 0)");
            }
            Integer topicPartitions = partitions.get(stage.inputTopic());
            assertNotNull(topicPartitions, where + ": no KafkaTopic for " + stage.inputTopic());
            assertTrue(topicPartitions >= max, where + ": maxReplicaCount " + max + " > partitions of "
                    + stage.inputTopic() + " (" + topicPartitions + "): extra replicas would sit idle");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void strimziKafkaNodePoolsAndTopicsAreComplete(String overlay) {
        Manifests m = manifests(overlay);
        List<JsonNode> kafkas = m.custom("Kafka");
        assertEquals(1, kafkas.size(), overlay + ": Kafka clusters");
        JsonNode kafka = kafkas.get(0);
        String cluster = kafka.path("metadata").path("name").asText();
        JsonNode spec = kafka.path("spec");
        assertTrue(spec.path("kafka").path("version").isTextual(), overlay + ": Kafka spec.kafka.version");
        assertTrue(spec.path("kafka").path("listeners").isArray() && !spec.path("kafka").path("listeners").isEmpty(),
                overlay + ": Kafka spec.kafka.listeners");
        assertTrue(spec.path("kafka").path("listeners").findValues("port").stream().anyMatch(p -> p.asInt() == 9092),
                overlay + ": no listener on 9092");
        assertTrue(spec.has("kafkaExporter"), overlay + ": Kafka exporter (consumer lag metrics) not enabled");
        assertFalse(spec.has("zookeeper"), overlay + ": ZooKeeper is gone in Kafka 4: KRaft only");
        assertFalse(spec.path("kafka").has("replicas") || spec.path("kafka").has("storage"),
                overlay + ": replicas/storage belong to the KafkaNodePool");

        Set<String> roles = new TreeSet<>();
        int replicas = 0;
        for (JsonNode pool : m.custom("KafkaNodePool")) {
            assertEquals(cluster, pool.path("metadata").path("labels").path("strimzi.io/cluster").asText(),
                    overlay + ": " + Manifests.describe(pool) + " not labelled for cluster " + cluster);
            assertTrue(pool.path("spec").path("replicas").isInt(), overlay + ": pool replicas");
            assertTrue(pool.path("spec").path("storage").path("type").isTextual(), overlay + ": pool storage");
            pool.path("spec").path("roles").forEach(r -> roles.add(r.asText()));
            if (pool.path("spec").path("roles").toString().contains("broker")) {
                replicas = Math.max(replicas, pool.path("spec").path("replicas").asInt());
            }
        }
        assertEquals(Set.of("broker", "controller"), roles, overlay + ": KRaft needs controller and broker roles");

        Map<String, Integer> partitions = topicPartitions(m);
        Map<String, long[]> compose = Repo.composeTopics();
        Set<String> documented = Repo.topicTable().keySet();
        assertEquals(new TreeSet<>(documented), new TreeSet<>(partitions.keySet()),
                overlay + ": KafkaTopics vs the topics of docs/architecture.md");
        assertEquals(new TreeSet<>(compose.keySet()), new TreeSet<>(partitions.keySet()),
                overlay + ": KafkaTopics vs deploy/kafka/topics.txt");
        for (JsonNode topic : m.custom("KafkaTopic")) {
            String where = overlay + ": " + Manifests.describe(topic);
            JsonNode ts = topic.path("spec");
            String name = ts.path("topicName").asText(topic.path("metadata").path("name").asText());
            assertEquals(cluster, topic.path("metadata").path("labels").path("strimzi.io/cluster").asText(),
                    where + ": strimzi.io/cluster label");
            assertTrue(ts.path("partitions").isInt() && ts.path("partitions").asInt() > 0, where + ": partitions");
            assertTrue(ts.path("replicas").isInt() && ts.path("replicas").asInt() <= Math.max(replicas, 1),
                    where + ": replicas above the broker count " + replicas);
            long retention = ts.path("config").path("retention.ms").asLong(-1);
            assertTrue(retention > 0, where + ": set retention.ms");
            assertEquals(compose.get(name)[0], ts.path("partitions").asLong(),
                    where + ": partitions differ from deploy/kafka/topics.txt");
            assertEquals(compose.get(name)[1], retention, where + ": retention.ms differs from deploy/kafka/topics.txt");
            assertEquals(compose.get(name)[2], ts.path("config").path("segment.ms").asLong(-1),
                    where + ": segment.ms differs from deploy/kafka/topics.txt");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void monitoringScrapesTheStagesAndAlertsOnLagFailuresAndReadiness(String overlay) {
        Manifests m = manifests(overlay);
        List<Deployment> stageDeployments = Repo.stages().stream()
                .map(s -> m.one(Deployment.class, s.service())).toList();
        boolean scraped = false;
        for (JsonNode pm : m.custom("PodMonitor")) {
            JsonNode match = pm.path("spec").path("selector").path("matchLabels");
            assertTrue(match.isObject() && !match.isEmpty(), overlay + ": " + Manifests.describe(pm) + " selector");
            assertTrue(pm.path("spec").path("podMetricsEndpoints").isArray(), overlay + ": podMetricsEndpoints");
            Map<String, String> labels = new HashMap<>();
            match.fields().forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            List<Deployment> selected = stageDeployments.stream().filter(d -> selects(labels, d)).toList();
            if (selected.isEmpty()) {
                continue;
            }
            assertEquals(stageDeployments.size(), selected.size(), overlay + ": " + Manifests.describe(pm)
                    + " selects only some stages: " + names(selected));
            for (JsonNode ep : pm.path("spec").path("podMetricsEndpoints")) {
                assertEquals("/q/metrics", ep.path("path").asText(), overlay + ": stage metrics path");
                for (Deployment d : selected) {
                    assertNotNull(containerPort(d, new IntOrString(ep.path("port").asText())),
                            overlay + ": " + d.getMetadata().getName() + " has no port " + ep.path("port").asText());
                }
            }
            scraped = true;
        }
        assertTrue(scraped, overlay + ": no PodMonitor scrapes the stages");
        Deployment gateway = m.one(Deployment.class, Repo.gateway().service());
        List<JsonNode> gatewayMonitors = m.custom("PodMonitor").stream().filter(pm -> {
            Map<String, String> labels = new HashMap<>();
            pm.path("spec").path("selector").path("matchLabels").fields()
                    .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
            return selects(labels, gateway);
        }).toList();
        assertEquals(1, gatewayMonitors.size(), overlay + ": PodMonitors scraping the gateway");
        for (JsonNode ep : gatewayMonitors.get(0).path("spec").path("podMetricsEndpoints")) {
            assertEquals("/q/metrics", ep.path("path").asText(), overlay + ": gateway metrics path");
            assertNotNull(containerPort(gateway, new IntOrString(ep.path("port").asText())),
                    overlay + ": the gateway has no port " + ep.path("port").asText());
        }
        assertTrue(m.custom("PodMonitor").stream().anyMatch(pm -> pm.path("spec").path("selector").path("matchLabels")
                        .path("strimzi.io/name").asText().endsWith("kafka-exporter")),
                overlay + ": no PodMonitor for the Kafka exporter");

        StringBuilder exprs = new StringBuilder();
        int alerts = 0;
        for (JsonNode rule : m.custom("PrometheusRule")) {
            for (JsonNode group : rule.path("spec").path("groups")) {
                assertTrue(group.path("name").isTextual(), overlay + ": rule group without a name");
                for (JsonNode r : group.path("rules")) {
                    assertTrue(r.path("expr").isTextual(), overlay + ": rule without expr: " + r);
                    assertTrue(r.has("alert") || r.has("record"), overlay + ": rule neither alert nor record: " + r);
                    if (r.has("alert")) {
                        alerts++;
                        assertTrue(r.path("labels").path("severity").isTextual(),
                                overlay + ": alert " + r.path("alert").asText() + " has no severity");
                        assertTrue(r.path("annotations").path("summary").isTextual(),
                                overlay + ": alert " + r.path("alert").asText() + " has no summary");
                    }
                    exprs.append(r.path("expr").asText()).append('\n');
                }
            }
        }
        assertTrue(alerts >= 3, overlay + ": alerts");
        for (String metric : List.of("kafka_consumergroup_lag", "mav_stage_jobs_failed_total",
                "kube_deployment_status_replicas_available")) {
            assertTrue(exprs.toString().contains(metric), overlay + ": no alert on " + metric);
        }

        ConfigMap dashboard = m.all(ConfigMap.class).stream()
                .filter(c -> "1".equals(c.getMetadata().getLabels() == null ? null
                        : c.getMetadata().getLabels().get("grafana_dashboard")))
                .findFirst().orElseThrow(() -> new AssertionError(overlay + ": no grafana_dashboard ConfigMap"));
        String json = dashboard.getData().values().iterator().next();
        assertEquals(Repo.read(Repo.root().resolve("k8s/base/monitoring/mav-pipeline-dashboard.json")), json,
                overlay + ": dashboard ConfigMap differs from the canonical file");
    }

    @Test
    void gpuOverlayGivesTheGpuStagesOneGpuAndTheCudaProvider() {
        Manifests m = manifests("gpu");
        for (Repo.Stage stage : Repo.stages()) {
            Container c = stageContainer(m.one(Deployment.class, stage.service()));
            Quantity limit = c.getResources().getLimits().get("nvidia.com/gpu");
            Quantity request = c.getResources().getRequests() == null ? null
                    : c.getResources().getRequests().get("nvidia.com/gpu");
            String where = "gpu: " + stage.service();
            if (stage.gpu()) {
                assertNotNull(limit, where + ": no nvidia.com/gpu limit");
                assertEquals("1", limit.toString(), where + ": nvidia.com/gpu limit");
                if (request != null) {
                    assertEquals(limit.toString(), request.toString(), where + ": GPU request must equal its limit");
                }
                assertEquals("cuda", env(c, "MAV_ORT_PROVIDER"), where + ": MAV_ORT_PROVIDER");
                assertTrue(c.getImage().endsWith("-gpu"), where + ": image " + c.getImage() + " is not the GPU image");
            } else {
                assertNull(limit, where + ": a CPU stage requests a GPU");
                assertFalse(c.getImage().endsWith("-gpu"), where + ": CPU stage on the GPU image");
            }
        }
    }

    @Test
    void cpuOverlayRequestsNoGpuAnywhere() {
        Manifests m = manifests("cpu");
        for (Deployment d : m.all(Deployment.class)) {
            for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
                String where = "cpu: " + d.getMetadata().getName();
                assertFalse(c.getResources() != null && c.getResources().getLimits() != null
                        && c.getResources().getLimits().containsKey("nvidia.com/gpu"), where + ": GPU limit");
                assertFalse(c.getResources() != null && c.getResources().getRequests() != null
                        && c.getResources().getRequests().containsKey("nvidia.com/gpu"), where + ": GPU request");
                String provider = env(c, "MAV_ORT_PROVIDER");
                assertTrue(provider == null || provider.equals("cpu"), where + ": MAV_ORT_PROVIDER " + provider);
                assertFalse(c.getImage().endsWith("-gpu"), where + ": GPU image");
            }
        }
        assertEquals("cpu", m.one(ConfigMap.class, "mav-config").getData().get("MAV_ORT_PROVIDER"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void minioHasStorageAndASetupJobWithTheJobsLifecycleRule(String overlay) {
        Manifests m = manifests(overlay);
        Deployment minio = m.one(Deployment.class, "minio");
        assertTrue(minio.getSpec().getTemplate().getSpec().getVolumes().stream()
                        .anyMatch(v -> v.getPersistentVolumeClaim() != null),
                overlay + ": MinIO without a persistent volume");
        Service svc = m.one(Service.class, "minio");
        assertTrue(svc.getSpec().getPorts().stream().anyMatch(p -> p.getPort() == 9000), overlay + ": MinIO port 9000");
        assertEquals("http://minio:9000", m.one(ConfigMap.class, "mav-config").getData().get("MAV_S3_ENDPOINT"));

        Job job = m.all(Job.class).stream().findFirst()
                .orElseThrow(() -> new AssertionError(overlay + ": no MinIO setup Job"));
        String script = job.getSpec().getTemplate().getSpec().getContainers().stream()
                .flatMap(c -> java.util.stream.Stream.concat(
                        c.getCommand() == null ? java.util.stream.Stream.empty() : c.getCommand().stream(),
                        c.getArgs() == null ? java.util.stream.Stream.empty() : c.getArgs().stream()))
                .collect(Collectors.joining(" "));
        assertTrue(script.contains("mav/mav") && script.contains("mav/mav-models"), overlay + ": buckets not created");
        assertTrue(script.contains("ilm import"), overlay + ": lifecycle not installed");
        String lifecycleMap = job.getSpec().getTemplate().getSpec().getVolumes().stream()
                .filter(v -> v.getConfigMap() != null).map(v -> v.getConfigMap().getName()).findFirst()
                .orElseThrow(() -> new AssertionError(overlay + ": setup Job mounts no lifecycle ConfigMap"));
        String lifecycle = m.one(ConfigMap.class, lifecycleMap).getData().get("lifecycle.json");
        assertNotNull(lifecycle, overlay + ": no lifecycle.json in " + lifecycleMap);
        JsonNode rules;
        try {
            rules = Manifests.STRICT.readTree(lifecycle).path("Rules");
        } catch (java.io.IOException e) {
            throw new AssertionError("lifecycle.json is not JSON", e);
        }
        boolean expiresJobs = false;
        for (JsonNode r : rules) {
            if ("jobs/".equals(r.path("Filter").path("Prefix").asText()) && "Enabled".equals(r.path("Status").asText())
                    && r.path("Expiration").path("Days").asInt() >= 1) {
                expiresJobs = true;
            }
            assertFalse(r.path("Filter").path("Prefix").asText().isEmpty(),
                    overlay + ": a lifecycle rule without prefix would expire videos/ too");
        }
        assertTrue(expiresJobs, overlay + ": no enabled rule expiring jobs/");
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void theGatewayRunsTwoReplicasBehindItsServiceWithProbesConfigAndKeys(String overlay) {
        Manifests m = manifests(overlay);
        Repo.Gateway gw = Repo.gateway();
        String where = overlay + ": " + gw.service() + " (expected from " + gw.source() + ")";
        Deployment d = m.one(Deployment.class, gw.service());
        Container c = stageContainer(d);
        ContainerPort http = c.getPorts().stream().filter(p -> "http".equals(p.getName())).findFirst()
                .orElseThrow(() -> new AssertionError(where + ": no container port named http"));
        assertEquals(gw.port(), http.getContainerPort(), where + ": container port");
        assertEquals(String.valueOf(gw.port()), env(c, "QUARKUS_HTTP_PORT"), where + ": QUARKUS_HTTP_PORT");
        Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
        assertFalse("stage".equals(podLabels.get("app.kubernetes.io/component")),
                where + ": labelled as a stage (the stages' NetworkPolicy, PodMonitor and overlay patches would pick it)");
        assertFalse(podLabels.containsKey("mav.io/stage"), where + ": carries mav.io/stage");

        assertTrue(d.getSpec().getReplicas() != null && d.getSpec().getReplicas() >= 2,
                where + ": replicas " + d.getSpec().getReplicas() + "; one replica closes the door on every rollout");
        assertTrue(m.customByName("ScaledObject").values().stream().noneMatch(so -> gw.service().equals(
                so.path("spec").path("scaleTargetRef").path("name").asText())), where + ": a ScaledObject targets it");

        List<Service> services = m.all(Service.class).stream().filter(s -> selects(s.getSpec().getSelector(), d))
                .toList();
        assertEquals(1, services.size(), where + ": Services selecting it: " + names(services));
        Service svc = services.get(0);
        assertEquals(gw.service(), svc.getMetadata().getName(), where + ": Service name");
        ServicePort sp = svc.getSpec().getPorts().stream().filter(p -> p.getPort() == gw.port()).findFirst()
                .orElseThrow(() -> new AssertionError(where + ": Service has no port " + gw.port()));
        ContainerPort target = containerPort(d, sp.getTargetPort());
        assertNotNull(target, where + ": Service port " + gw.port() + " targets nothing");
        assertEquals(gw.port(), target.getContainerPort(), where + ": Service targets the wrong container port");

        assertProbe(where + " startupProbe", c.getStartupProbe(), "/q/health/started", d);
        assertProbe(where + " readinessProbe", c.getReadinessProbe(), "/q/health/ready", d);
        assertProbe(where + " livenessProbe", c.getLivenessProbe(), "/q/health/live", d);

        // The shared settings come from mav-config key by key; the whole map would bring MAV_MODELS_S3_URI, and
        // the image's entrypoint would mirror every model into a service that loads none.
        ConfigMap config = m.one(ConfigMap.class, "mav-config");
        Stream.ofNullable(c.getEnvFrom()).flatMap(List::stream).forEach(e -> assertTrue(e.getConfigMapRef() == null,
                where + ": envFrom ConfigMap " + (e.getConfigMapRef() == null ? "" : e.getConfigMapRef().getName())));
        for (String key : List.of("KAFKA_BOOTSTRAP_SERVERS", "MAV_TOPIC_PREFIX", "MAV_S3_ENDPOINT", "MAV_S3_BUCKET")) {
            EnvVar e = c.getEnv().stream().filter(v -> key.equals(v.getName())).findFirst()
                    .orElseThrow(() -> new AssertionError(where + ": no env " + key));
            var ref = e.getValueFrom() == null ? null : e.getValueFrom().getConfigMapKeyRef();
            assertTrue(ref != null && "mav-config".equals(ref.getName()) && key.equals(ref.getKey()),
                    where + ": env " + key + " is not mav-config's " + key);
            assertTrue(config.getData().containsKey(key), overlay + ": mav-config has no " + key);
        }
        assertNull(env(c, "MAV_MODELS_S3_URI"), where + ": MAV_MODELS_S3_URI makes the entrypoint sync models");
        assertTrue(Stream.ofNullable(c.getEnvFrom()).flatMap(List::stream).anyMatch(e -> e.getSecretRef() != null
                && "mav-s3".equals(e.getSecretRef().getName())), where + ": no envFrom Secret mav-s3");
        EnvVar keys = c.getEnv().stream().filter(v -> "MAV_GATEWAY_API_KEYS".equals(v.getName())).findFirst()
                .orElseThrow(() -> new AssertionError(where + ": no MAV_GATEWAY_API_KEYS: the gateway would be open"));
        var keyRef = keys.getValueFrom() == null ? null : keys.getValueFrom().getSecretKeyRef();
        assertTrue(keyRef != null && "mav-gateway-keys".equals(keyRef.getName())
                        && "MAV_GATEWAY_API_KEYS".equals(keyRef.getKey()),
                where + ": MAV_GATEWAY_API_KEYS does not come from Secret mav-gateway-keys");
        assertFalse(Boolean.TRUE.equals(keyRef.getOptional()),
                where + ": an optional key Secret lets the gateway start open when the Secret is missing");

        Map<String, Quantity> requests = c.getResources().getRequests();
        Map<String, Quantity> limits = c.getResources().getLimits();
        for (String r : List.of("cpu", "memory")) {
            assertTrue(requests.containsKey(r) && limits.containsKey(r), where + ": no " + r + " request or limit");
            assertTrue(Quantity.getAmountInBytes(requests.get(r)).compareTo(Quantity.getAmountInBytes(limits.get(r)))
                    <= 0, where + ": " + r + " request above limit");
        }
        Set<String> envNames = new HashSet<>();
        for (EnvVar e : c.getEnv()) {
            assertTrue(envNames.add(e.getName()), where + ": env " + e.getName() + " set twice");
        }
        assertFalse(c.getImage().endsWith("-gpu"), where + ": the gateway runs the JVM image");
        assertFalse(limits.containsKey("nvidia.com/gpu") || requests.containsKey("nvidia.com/gpu"),
                where + ": the gateway needs no GPU");

        Map<String, Integer> partitions = topicPartitions(m);
        for (String topic : gw.topics()) {
            assertTrue(partitions.containsKey(topic), where + ": no KafkaTopic for " + topic);
        }
    }

    // ------------------------------------------------------------------ helpers

    static String kafkaBootstrap(Manifests m) {
        List<JsonNode> kafkas = m.custom("Kafka");
        assertEquals(1, kafkas.size(), m.overlay + ": Kafka clusters");
        String bootstrap = kafkas.get(0).path("metadata").path("name").asText() + "-kafka-bootstrap";
        ConfigMap config = m.one(ConfigMap.class, "mav-config");
        String servers = config.getData().get("KAFKA_BOOTSTRAP_SERVERS");
        assertTrue(servers != null && servers.startsWith(bootstrap), m.overlay + ": KAFKA_BOOTSTRAP_SERVERS " + servers
                + " is not the bootstrap service " + bootstrap);
        return bootstrap;
    }

    static Map<String, Integer> topicPartitions(Manifests m) {
        Map<String, Integer> out = new HashMap<>();
        for (JsonNode t : m.custom("KafkaTopic")) {
            String name = t.path("spec").path("topicName").asText(t.path("metadata").path("name").asText());
            if (out.put(name, t.path("spec").path("partitions").asInt()) != null) {
                fail(m.overlay + ": two KafkaTopics for " + name);
            }
        }
        return out;
    }

    static boolean selects(Map<String, String> selector, Deployment d) {
        Map<String, String> labels = d.getSpec().getTemplate().getMetadata().getLabels();
        return selector != null && !selector.isEmpty() && labels != null
                && labels.entrySet().containsAll(selector.entrySet());
    }

    static Container stageContainer(Deployment d) {
        List<Container> containers = d.getSpec().getTemplate().getSpec().getContainers();
        assertEquals(1, containers.size(), d.getMetadata().getName() + ": containers");
        return containers.get(0);
    }

    static ContainerPort containerPort(Deployment d, IntOrString target) {
        if (target == null) {
            return null;
        }
        for (Container c : d.getSpec().getTemplate().getSpec().getContainers()) {
            if (c.getPorts() == null) {
                continue;
            }
            for (ContainerPort p : c.getPorts()) {
                boolean byName = target.getStrVal() != null && !target.getStrVal().matches("\\d+")
                        && target.getStrVal().equals(p.getName());
                boolean byNumber = target.getIntVal() != null ? target.getIntVal().equals(p.getContainerPort())
                        : target.getStrVal() != null && target.getStrVal().matches("\\d+")
                        && Integer.parseInt(target.getStrVal()) == p.getContainerPort();
                if (byName || byNumber) {
                    return p;
                }
            }
        }
        return null;
    }

    static void assertProbe(String where, Probe probe, String path, Deployment d) {
        assertNotNull(probe, where + ": missing");
        assertNotNull(probe.getHttpGet(), where + ": not an HTTP probe");
        assertEquals(path, probe.getHttpGet().getPath(), where + ": path");
        assertNotNull(containerPort(d, probe.getHttpGet().getPort()), where + ": port " + probe.getHttpGet().getPort()
                + " is not a container port");
    }

    static String env(Container c, String name) {
        if (c.getEnv() == null) {
            return null;
        }
        String value = null;
        for (EnvVar e : c.getEnv()) {
            if (name.equals(e.getName())) {
                value = e.getValue();
            }
        }
        return value;
    }

    static Set<String> names(List<? extends HasMetadata> objects) {
        return objects.stream().map(o -> o.getMetadata().getName()).collect(Collectors.toCollection(TreeSet::new));
    }
}
