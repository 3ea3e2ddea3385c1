package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Validates docker-compose.yml alone (GPU host) and with docker-compose.cpu.yml (CPU host) through
 * {@code docker-compose config}, then checks the merged model: every stage present under its own name (or an
 * alias), environment and healthcheck as in docs/architecture.md, GPU reservations exactly where they belong, a
 * stop grace period that outlasts the stages' drain.
 */
class ComposeConfigTest {

    private static JsonNode config(String... files) {
        Optional<Path> compose = Tools.dockerCompose();
        assumeTrue(compose.isPresent(), "docker-compose not found (apt-get install docker-compose): compose files "
                + "not validated");
        List<String> cmd = new ArrayList<>();
        cmd.add(compose.get().toString());
        for (String f : files) {
            cmd.add("-f");
            cmd.add(f);
        }
        cmd.add("config");
        Tools.Result r = Tools.run(Repo.root(), cmd);
        assertEquals(0, r.exitCode(), String.join(" ", cmd) + " failed:\n" + r.stderr());
        List<JsonNode> docs = Manifests.parseAll(r.stdout());
        assertEquals(1, docs.size(), "docker-compose config output");
        return docs.get(0);
    }

    /** Services that run without --profile: stage name on the network (service name or alias) to service. */
    private static Map<String, JsonNode> activeByNetworkName(JsonNode config) {
        Map<String, JsonNode> out = new HashMap<>();
        config.path("services").fields().forEachRemaining(e -> {
            JsonNode s = e.getValue();
            if (s.path("profiles").isArray() && !s.path("profiles").isEmpty()) {
                return;
            }
            out.put(e.getKey(), s);
            s.path("networks").path("default").path("aliases").forEach(a -> out.put(a.asText(), s));
        });
        return out;
    }

    /** A Compose duration ({@code 150s}, {@code 2m30s}, {@code 1h}) in whole seconds. */
    static long seconds(String duration) {
        Matcher m = Pattern.compile("(\\d+)(h|m|s)").matcher(duration);
        long total = 0;
        int end = 0;
        while (m.find() && m.start() == end) {
            total += Long.parseLong(m.group(1)) * switch (m.group(2)) {
                case "h" -> 3600;
                case "m" -> 60;
                default -> 1;
            };
            end = m.end();
        }
        assertTrue(end > 0 && end == duration.length(), "not a duration in whole seconds: '" + duration + "'");
        return total;
    }

    private static boolean reservesGpu(JsonNode service) {
        for (JsonNode d : service.path("deploy").path("resources").path("reservations").path("devices")) {
            if ("nvidia".equals(d.path("driver").asText()) || d.path("capabilities").toString().contains("gpu")) {
                return true;
            }
        }
        return false;
    }

    private static void checkStages(JsonNode config, boolean gpuHost) {
        Map<String, JsonNode> active = activeByNetworkName(config);
        for (String infra : List.of("kafka", "kafka-init", "minio", "minio-init", "prometheus", "grafana",
                "kafka-exporter")) {
            assertTrue(active.containsKey(infra), "service " + infra + " missing");
        }
        for (Repo.Stage stage : Repo.stages()) {
            String where = (gpuHost ? "gpu" : "cpu") + " compose: " + stage.service();
            JsonNode s = active.get(stage.service());
            assertNotNull(s, where + ": not running under that name or alias");
            JsonNode env = s.path("environment");
            assertEquals(String.valueOf(stage.port()), env.path("QUARKUS_HTTP_PORT").asText(), where + ": port");
            assertEquals("kafka:9092", env.path("KAFKA_BOOTSTRAP_SERVERS").asText(), where);
            assertEquals("mav.", env.path("MAV_TOPIC_PREFIX").asText(), where);
            assertEquals("http://minio:9000", env.path("MAV_S3_ENDPOINT").asText(), where);
            assertEquals("mav", env.path("MAV_S3_BUCKET").asText(), where);
            assertFalse(env.path("MAV_S3_ACCESS_KEY").asText().isEmpty(), where + ": no S3 access key");
            assertTrue(env.path("MAV_MODELS_S3_URI").asText().startsWith("s3://mav-models"), where + ": models URI");
            String health = s.path("healthcheck").path("test").toString();
            assertTrue(health.contains("/q/health/ready"), where + ": healthcheck " + health);
            assertTrue(s.path("depends_on").has("kafka-init") && s.path("depends_on").has("minio-init"),
                    where + ": must start after the topic and bucket jobs");
            boolean gpuStage = gpuHost && stage.gpu();
            assertEquals(gpuStage, reservesGpu(s), where + ": GPU reservation");
            assertEquals(gpuStage ? "cuda" : "cpu", env.path("MAV_ORT_PROVIDER").asText(), where + ": ORT provider");
            String image = s.path("image").asText();
            assertTrue(image.endsWith(gpuStage ? "-gpu" : "-jvm"), where + ": image " + image);
            assertFalse(env.path("MAV_S3_ACCESS_KEY").asText().equals(
                            active.get("minio").path("environment").path("MINIO_ROOT_USER").asText()),
                    where + ": runs with MinIO's root login instead of its own S3 user");
            assertEquals(active.get("minio-init").path("environment").path("MAV_S3_ACCESS_KEY").asText(),
                    env.path("MAV_S3_ACCESS_KEY").asText(), where + ": not the user minio-init creates");
            JsonNode args = s.path("build").path("args");
            assertEquals(stage.service(), args.path("SERVICE").asText(), where + ": build arg SERVICE");
            assertEquals(gpuStage ? "gpu" : "jvm", args.path("VARIANT").asText(), where + ": build arg VARIANT");
            assertEquals(String.valueOf(stage.port()), args.path("HTTP_PORT").asText(), where + ": build arg HTTP_PORT");
            assertTrue(s.path("build").path("dockerfile").asText().endsWith("deploy/docker/Dockerfile"),
                    where + ": shared Dockerfile");
            if (stage.stage().equals("sr-high")) {
                assertTrue(args.path("EXTRA_APT_PACKAGES").asText().contains("ffmpeg"), where + ": needs ffmpeg");
            }
            int drain = Integer.parseInt(env.path("MAV_DRAIN_SECONDS")
                    .asText(Repo.sharedDefaults().getProperty("mav.drain-seconds")).trim());
            long grace = seconds(s.path("stop_grace_period").asText("10s"));
            assertTrue(grace >= drain + 30, where + ": stop_grace_period " + grace + " s leaves under 30 s after the"
                    + " drain deadline " + drain + " s for the commit and the exit (Docker's default is 10 s)");
        }
        Repo.Gateway gateway = Repo.gateway();
        String where = (gpuHost ? "gpu" : "cpu") + " compose: " + gateway.service();
        JsonNode gw = active.get(gateway.service());
        assertNotNull(gw, where + ": not running");
        JsonNode gwEnv = gw.path("environment");
        assertEquals(String.valueOf(gateway.port()), gwEnv.path("QUARKUS_HTTP_PORT").asText(), where + ": port");
        assertEquals("kafka:9092", gwEnv.path("KAFKA_BOOTSTRAP_SERVERS").asText(), where);
        assertEquals("http://minio:9000", gwEnv.path("MAV_S3_ENDPOINT").asText(), where);
        assertEquals(active.get("minio-init").path("environment").path("MAV_S3_ACCESS_KEY").asText(),
                gwEnv.path("MAV_S3_ACCESS_KEY").asText(), where + ": not the S3 user minio-init creates (root login?)");
        assertFalse(reservesGpu(gw), where + ": reserves a GPU");
        assertEquals("jvm", gw.path("build").path("args").path("VARIANT").asText(), where + ": build arg VARIANT");
        assertEquals(gateway.service(), gw.path("build").path("args").path("SERVICE").asText(), where + ": SERVICE");
        assertEquals(String.valueOf(gateway.port()), gw.path("build").path("args").path("HTTP_PORT").asText(),
                where + ": build arg HTTP_PORT");
        assertTrue(gw.path("healthcheck").path("test").toString().contains("/q/health/ready"), where + ": healthcheck");
        if (!gpuHost) {
            active.forEach((name, s) -> assertFalse(reservesGpu(s), "cpu compose: " + name + " reserves a GPU"));
        }
        String init = active.get("minio-init").toString();
        for (String step : List.of("stage-policy.json", "mc admin policy create", "mc admin user add",
                "mc admin policy attach", "lifecycle.json")) {
            assertTrue(init.contains(step), "minio-init lacks " + step);
        }
        JsonNode prometheus = active.get("prometheus");
        assertTrue(prometheus.path("volumes").toString().contains("/etc/prometheus"), "prometheus volumes");
        assertTrue(prometheus.path("volumes").toString().replace("\\", "/").contains("deploy/prometheus"),
                "prometheus must mount deploy/prometheus (config and rules) at /etc/prometheus");
    }

    @Test
    void gpuComposeFileIsValidAndReservesGpusForTheGpuStages() {
        checkStages(config("docker-compose.yml"), true);
    }

    @Test
    void cpuOverrideIsValidAndRunsEveryStageWithoutGpu() {
        checkStages(config("docker-compose.yml", "docker-compose.cpu.yml"), false);
    }
}
