package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** Checks of the deployment files that need no external tool. */
class DeployFilesTest {

    private static final Path ROOT = Repo.root();

    @Test
    void stagesFromPropertiesAgreeWithTheArchitectureDoc() {
        Map<String, String> groups = Repo.topicTable();
        for (Repo.Stage stage : Repo.stages()) {
            assertEquals(groups.get(stage.inputTopic()), stage.group(),
                    stage.service() + ": consumer group in " + stage.source() + " vs docs/architecture.md");
            assertEquals("mav-" + stage.stage(), stage.group(), stage.service() + ": group naming");
            assertTrue(stage.port() >= 8081 && stage.port() <= 8085, stage.service() + ": port " + stage.port());
        }
        assertEquals(5, Repo.stages().stream().map(Repo.Stage::port).distinct().count(), "ports must differ");
    }

    @Test
    void composeTopicListMatchesTheStrimziTopicsFile() throws IOException {
        Map<String, long[]> compose = Repo.composeTopics();
        Map<String, long[]> strimzi = new TreeMap<>();
        for (JsonNode t : Manifests.parseAll(Files.readString(ROOT.resolve("k8s/base/kafka/topics.yaml")))) {
            JsonNode spec = t.path("spec");
            strimzi.put(spec.path("topicName").asText(), new long[] {spec.path("partitions").asLong(),
                spec.path("config").path("retention.ms").asLong(), spec.path("config").path("segment.ms").asLong()});
        }
        assertEquals(new TreeMap<>(compose).keySet(), strimzi.keySet(), "topic names");
        compose.forEach((name, v) -> {
            assertEquals(v[0], strimzi.get(name)[0], name + " partitions");
            assertEquals(v[1], strimzi.get(name)[1], name + " retention.ms");
            assertEquals(v[2], strimzi.get(name)[2], name + " segment.ms");
        });
        assertEquals(new TreeMap<>(Repo.topicTable()).keySet(), strimzi.keySet(), "topics of docs/architecture.md");
    }

    @Test
    void prometheusScrapesEveryStageOnItsPort() throws IOException {
        JsonNode prom = Manifests.YAML.readTree(ROOT.resolve("deploy/prometheus/prometheus.yml").toFile());
        Map<String, String> targets = new HashMap<>();
        List<String> jobs = new ArrayList<>();
        for (JsonNode job : prom.path("scrape_configs")) {
            jobs.add(job.path("job_name").asText());
            String path = job.path("metrics_path").asText("/metrics");
            for (JsonNode sc : job.path("static_configs")) {
                sc.path("targets").forEach(t -> targets.put(t.asText(), path));
            }
        }
        for (Repo.Stage stage : Repo.stages()) {
            String target = stage.service() + ":" + stage.port();
            assertEquals("/q/metrics", targets.get(target), "Prometheus target " + target);
        }
        Repo.Gateway gateway = Repo.gateway();
        assertEquals("/q/metrics", targets.get(gateway.service() + ":" + gateway.port()),
                "Prometheus target " + gateway.service() + ":" + gateway.port());
        assertTrue(targets.containsKey("kafka-exporter:9308"), "kafka exporter not scraped");
        assertTrue(targets.containsKey("dcgm-exporter:9400"), "DCGM exporter not scraped");
    }

    @Test
    void dashboardShowsThroughputLatencyInferenceShareLagFailuresInFlightAndGpu() throws IOException {
        JsonNode dash = Manifests.STRICT.readTree(ROOT.resolve("k8s/base/monitoring/mav-pipeline-dashboard.json").toFile());
        assertEquals("mav-pipeline", dash.path("uid").asText());
        StringBuilder exprs = new StringBuilder();
        for (JsonNode panel : dash.path("panels")) {
            for (JsonNode t : panel.path("targets")) {
                exprs.append(t.path("expr").asText()).append('\n');
            }
        }
        String all = exprs.toString();
        for (String needed : List.of("rate(mav_stage_jobs_completed_total", "mav_stage_job_seconds_bucket",
                "histogram_quantile(0.5", "histogram_quantile(0.95",
                "rate(mav_stage_phase_seconds_sum{phase=\"inference\"", "rate(mav_stage_job_seconds_sum",
                "kafka_consumergroup_lag", "mav_stage_jobs_failed_total", "mav_stage_in_flight",
                "DCGM_FI_DEV_GPU_UTIL")) {
            assertTrue(all.contains(needed), "dashboard has no query with " + needed);
        }
        String compose = Repo.read(ROOT.resolve("docker-compose.yml"));
        assertTrue(compose.contains("./k8s/base/monitoring/mav-pipeline-dashboard.json:"),
                "docker-compose.yml must mount the canonical dashboard");
        assertTrue(compose.contains("./k8s/base/storage/lifecycle.json:"),
                "docker-compose.yml must mount the canonical lifecycle rule");
        JsonNode provider = Manifests.YAML.readTree(
                ROOT.resolve("deploy/grafana/provisioning/dashboards/mav.yml").toFile());
        String path = provider.path("providers").get(0).path("options").path("path").asText();
        assertTrue(compose.contains(":" + path + "/mav-pipeline-dashboard.json"),
                "Grafana provider path " + path + " is not where compose mounts the dashboard");
    }

    @Test
    void everyServicePointsAtTheSharedDockerfile() {
        String dockerfile = Repo.read(ROOT.resolve("deploy/docker/Dockerfile"));
        for (String arg : List.of("ARG SERVICE", "ARG HTTP_PORT", "ARG VARIANT", "ARG APP_SOURCE", "ARG MODELS",
                "ARG EXTRA_APT_PACKAGES", "-Pgpu", "cudnn", "quarkus-app", "USER 1001")) {
            assertTrue(dockerfile.contains(arg), "deploy/docker/Dockerfile lacks " + arg);
        }
        String entrypoint = Repo.read(ROOT.resolve("deploy/docker/entrypoint.sh"));
        assertTrue(entrypoint.contains("MAV_MODELS_S3_URI") && entrypoint.contains("MAV_MODELS_DIR"),
                "entrypoint does not sync models");
        for (Repo.Stage stage : Repo.stages()) {
            Path readme = ROOT.resolve(stage.service()).resolve("src/main/docker/README.md");
            assertTrue(Files.isRegularFile(readme), readme + " missing");
            String text = Repo.read(readme);
            assertTrue(text.contains("deploy/docker/Dockerfile"), readme + " does not point at the shared Dockerfile");
            assertTrue(text.contains("HTTP_PORT=" + stage.port()), readme + " has the wrong port");
        }
        Repo.Gateway gateway = Repo.gateway();
        String readme = Repo.read(ROOT.resolve(gateway.service()).resolve("src/main/docker/README.md"));
        assertTrue(readme.contains("deploy/docker/Dockerfile") && readme.contains("HTTP_PORT=" + gateway.port()),
                gateway.service() + "/src/main/docker/README.md: the shared Dockerfile and port " + gateway.port());
        assertTrue(dockerfile.contains("test \"${SERVICE}\" != " + gateway.service()),
                "deploy/docker/Dockerfile must refuse a GPU build of " + gateway.service() + " (it runs no model)");
        assertTrue(Repo.architecture().contains("## Gateway (" + gateway.service() + ", port " + gateway.port() + ")"),
                "docs/architecture.md's Gateway section names another port than " + gateway.source());
    }

    /**
     * One replay window: a record still on a topic (kept retention.ms, plus up to one segment.ms because Kafka
     * deletes whole segments) must find the jobs/ objects it points at, which lifecycle.json expires after whole
     * days counted to a midnight (so one day more). The guide states the same window.
     */
    @Test
    void jobObjectsOutliveEveryRecordThatPointsAtThem() throws IOException {
        JsonNode rules = Manifests.STRICT.readTree(ROOT.resolve("k8s/base/storage/lifecycle.json").toFile())
                .path("Rules");
        assertEquals(1, rules.size(), "lifecycle rules");
        JsonNode rule = rules.get(0);
        assertEquals("jobs/", rule.path("Filter").path("Prefix").asText(), "only jobs/ expires (videos/ stay)");
        assertEquals("Enabled", rule.path("Status").asText());
        long lifecycleMs = rule.path("Expiration").path("Days").asLong() * 86_400_000L;
        long window = 0;
        for (Map.Entry<String, long[]> t : Repo.composeTopics().entrySet()) {
            long retention = t.getValue()[1];
            long segment = t.getValue()[2];
            assertTrue(segment > 0 && segment <= 86_400_000L, t.getKey() + ": segment.ms " + segment);
            assertTrue(lifecycleMs >= retention + segment + 86_400_000L, t.getKey() + ": records live up to "
                    + (retention + segment) + " ms but jobs/ objects expire after " + lifecycleMs + " ms");
            window = Math.max(window, retention);
        }
        String guide = Repo.read(ROOT.resolve("docs/operations.md"));
        long days = window / 86_400_000L;
        assertTrue(guide.contains("replay window is " + days + " days"), "docs/operations.md does not state the "
                + "replay window of " + days + " days");
        assertTrue(guide.contains("\"Days\": " + rule.path("Expiration").path("Days").asLong())
                        || guide.contains("after " + rule.path("Expiration").path("Days").asLong() + " days"),
                "docs/operations.md does not state when jobs/ objects expire");
    }

    /** The guide's credential steps create the Secrets the manifests reference, with the keys they read. */
    @Test
    void theGuideCreatesTheSecretsTheManifestsRead() {
        String guide = Repo.read(ROOT.resolve("docs/operations.md"));
        for (String secret : List.of("mav-minio-root", "mav-s3", "mav-gateway-keys")) {
            assertTrue(guide.contains("create secret generic " + secret), "docs/operations.md does not create " + secret);
        }
        for (String key : List.of("MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MAV_S3_ACCESS_KEY", "MAV_S3_SECRET_KEY",
                "MAV_GATEWAY_API_KEYS")) {
            assertTrue(guide.contains("--from-literal=" + key + "="), "docs/operations.md: key " + key);
        }
    }
}
