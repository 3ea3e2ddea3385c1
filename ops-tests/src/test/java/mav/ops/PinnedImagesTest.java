package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * No image floats: every image a deployment pulls names a release (a version tag or a digest, never
 * {@code latest} or a bare major), each deployment kind keeps its image releases in one place (Compose: .env;
 * kustomize: the {@code images:} of k8s/base and of each overlay; the image build: the Dockerfile's ARGs), and
 * those places agree on MinIO's and Kafka's releases.
 */
class PinnedImagesTest {

    private static final Path ROOT = Repo.root();
    /** A release tag: has a dotted version number or is one of MinIO's RELEASE.<date> tags. */
    private static final Pattern RELEASE_TAG = Pattern.compile("(^|[^0-9])[0-9]+\\.[0-9]+|^RELEASE\\.[0-9]{4}-");

    /** Why {@code image} is not pinned to a release, or null when it is. */
    static String unpinned(String image) {
        if (image == null || image.isBlank()) {
            return "no image";
        }
        if (image.contains("${")) {
            return "unresolved variable";
        }
        if (image.matches(".*@sha256:[0-9a-f]{64}$")) {
            return null;
        }
        int slash = image.lastIndexOf('/');
        int colon = image.lastIndexOf(':');
        if (colon < slash || colon < 0) {
            return "no tag (pulls latest)";
        }
        String tag = image.substring(colon + 1);
        if (tag.equals("latest")) {
            return "tag latest";
        }
        if (!RELEASE_TAG.matcher(tag).find()) {
            return "tag " + tag + " names no release";
        }
        return null;
    }

    @Test
    void theCheckKnowsAPinnedImageFromAFloatingOne() {
        for (String ok : List.of("quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z", "apache/kafka:4.3.1",
                "registry.example.com:5000/mav/decoder-service:1.0.0-gpu", "busybox:1.36.1",
                "nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04",
                "busybox@sha256:" + "a".repeat(64))) {
            assertEquals(null, unpinned(ok), ok);
        }
        for (String bad : List.of("minio/minio:latest", "minio/mc", "mav/decoder-service:gpu",
                "eclipse-temurin:17-jre-jammy", "localhost:5000/mav/prior-service", "${MINIO_IMAGE}")) {
            assertNotNull(unpinned(bad), bad);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "gpu"})
    void everyImageOfTheOverlayIsPinned(String overlay) {
        Manifests m = KustomizeOverlaysTest.manifests(overlay);
        List<String> floating = new ArrayList<>();
        for (Map.Entry<String, PodSpec> pod : PodSecurityAndIsolationTest.pods(m).entrySet()) {
            List<Container> containers = new ArrayList<>(pod.getValue().getContainers());
            if (pod.getValue().getInitContainers() != null) {
                containers.addAll(pod.getValue().getInitContainers());
            }
            for (Container c : containers) {
                String why = unpinned(c.getImage());
                if (why != null) {
                    floating.add(pod.getKey() + "/" + c.getName() + ": " + c.getImage() + " (" + why + ")");
                }
            }
        }
        // Custom resources that name an image (Strimzi lets `image` override its defaults) must pin it too.
        for (JsonNode doc : m.custom) {
            for (JsonNode image : doc.findValues("image")) {
                if (image.isTextual() && unpinned(image.asText()) != null) {
                    floating.add(Manifests.describe(doc) + ": " + image.asText());
                }
            }
        }
        assertEquals(List.of(), floating, overlay + ": images not pinned to a release");
        for (String name : List.of("Deployment/minio", "Job/minio-setup")) {
            String image = PodSecurityAndIsolationTest.pods(m).get(name).getContainers().get(0).getImage();
            assertTrue(image.startsWith("quay.io/minio/"), overlay + ": " + name + " pulls " + image
                    + "; MinIO serves its images from quay.io only");
        }
    }

    /** The manifests name images without a tag; the releases live in the kustomizations' images: only. */
    @Test
    void kubernetesManifestsLeaveTheReleaseToTheKustomizations() throws IOException {
        Pattern image = Pattern.compile("^\\s*image:\\s*(\\S+)", Pattern.MULTILINE);
        List<String> tagged = new ArrayList<>();
        try (Stream<Path> files = Files.walk(ROOT.resolve("k8s"))) {
            for (Path f : files.filter(p -> p.toString().endsWith(".yaml")).toList()) {
                if (f.getFileName().toString().equals("kustomization.yaml")) {
                    continue;
                }
                Matcher mt = image.matcher(Repo.read(f));
                while (mt.find()) {
                    String ref = mt.group(1);
                    int slash = ref.lastIndexOf('/');
                    if (ref.lastIndexOf(':') > slash || ref.contains("@")) {
                        tagged.add(ROOT.relativize(f) + ": " + ref);
                    }
                }
            }
        }
        assertEquals(List.of(), tagged, "set the release in the images: of k8s/base/kustomization.yaml or an overlay");
    }

    /** Compose: every image comes from .env (or is a stage build tagged with MAV_VERSION from .env). */
    @Test
    void composeTakesEveryImageReleaseFromItsEnvFile() {
        Map<String, String> env = dotEnv();
        Pattern image = Pattern.compile("^\\s*image:\\s*(\\S+)", Pattern.MULTILINE);
        List<String> problems = new ArrayList<>();
        for (String file : List.of("docker-compose.yml", "docker-compose.cpu.yml", "deploy/compose/stages.yml")) {
            Matcher mt = image.matcher(Repo.read(ROOT.resolve(file)));
            while (mt.find()) {
                String ref = mt.group(1);
                boolean fromEnv = ref.matches("\\$\\{[A-Z_]+}") && env.containsKey(ref.substring(2, ref.length() - 1));
                boolean stageBuild = ref.matches("mav/[a-z-]+-service:\\$\\{MAV_VERSION}-(jvm|gpu)");
                if (!fromEnv && !stageBuild) {
                    problems.add(file + ": image " + ref + " is not a variable of .env");
                }
            }
        }
        env.forEach((k, v) -> {
            if (k.endsWith("_IMAGE") && unpinned(v) != null) {
                problems.add(".env: " + k + "=" + v + " (" + unpinned(v) + ")");
            }
        });
        assertTrue(env.getOrDefault("MAV_VERSION", "").matches("[0-9]+\\.[0-9]+.*"), ".env: MAV_VERSION");
        assertEquals(List.of(), problems);
    }

    /** The image build pins its bases in ARGs and uses no literal image in FROM. */
    @Test
    void theDockerfilePinsEveryBaseImage() {
        String dockerfile = Repo.read(ROOT.resolve("deploy/docker/Dockerfile"));
        Map<String, String> args = dockerfileImageArgs(dockerfile);
        assertTrue(args.size() >= 5, "image ARGs of the Dockerfile: " + args);
        args.forEach((k, v) -> assertEquals(null, unpinned(v), "Dockerfile ARG " + k + "=" + v));
        Matcher from = Pattern.compile("^FROM\\s+(\\S+)", Pattern.MULTILINE).matcher(dockerfile);
        while (from.find()) {
            String ref = from.group(1);
            assertTrue(ref.startsWith("${") || ref.equals("scratch") || !ref.contains(":") && !ref.contains("/"),
                    "Dockerfile: FROM " + ref + " bypasses the pinned ARGs");
        }
    }

    /** The three places name the same MinIO, mc and Kafka releases (the cluster's Kafka runs the same line). */
    @Test
    void theDeploymentKindsAgreeOnTheReleases() {
        Map<String, String> env = dotEnv();
        Map<String, String> args = dockerfileImageArgs(Repo.read(ROOT.resolve("deploy/docker/Dockerfile")));
        Map<String, String> kustomize = new LinkedHashMap<>();
        for (JsonNode img : Manifests.parseAll(Repo.read(ROOT.resolve("k8s/base/kustomization.yaml"))).get(0)
                .path("images")) {
            kustomize.put(img.path("name").asText(), img.path("name").asText() + ":" + img.path("newTag").asText());
        }
        assertEquals(env.get("MINIO_IMAGE"), kustomize.get("quay.io/minio/minio"), ".env vs k8s/base MinIO");
        assertEquals(env.get("MC_IMAGE"), kustomize.get("quay.io/minio/mc"), ".env vs k8s/base mc");
        assertEquals(env.get("MC_IMAGE"), args.get("MC_IMAGE"), ".env vs Dockerfile mc");
        String kafka = Manifests.parseAll(Repo.read(ROOT.resolve("k8s/base/kafka/kafka.yaml"))).stream()
                .filter(d -> d.path("kind").asText().equals("Kafka")).findFirst().orElseThrow()
                .path("spec").path("kafka").path("version").asText();
        assertEquals("apache/kafka:" + kafka, env.get("KAFKA_IMAGE"), "Compose's broker vs the cluster's Kafka");
        Matcher local = Pattern.compile("<kafka\\.version>([^<]+)</kafka\\.version>")
                .matcher(Repo.read(ROOT.resolve("pom.xml")));
        assertTrue(local.find(), "pom.xml has no kafka.version");
        assertEquals(kafka, local.group(1).trim(), "the local launcher's broker (pom.xml kafka.version) vs the"
                + " cluster's Kafka");
    }

    /** Strimzi rejects a Kafka version it does not ship; the list is the pinned release's (see its README). */
    @Test
    void thePinnedStrimziRunsTheClustersKafka() throws IOException {
        Path crds = ROOT.resolve("ops-tests/src/test/resources/crds");
        Path strimzi;
        try (Stream<Path> dirs = Files.list(crds)) {
            strimzi = dirs.filter(d -> d.getFileName().toString().startsWith("strimzi-")).findFirst().orElseThrow();
        }
        List<String> supported = Files.readAllLines(strimzi.resolve("kafka-versions.txt")).stream()
                .map(String::trim).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        assertFalse(supported.isEmpty(), strimzi + "/kafka-versions.txt lists no version");
        for (JsonNode doc : Manifests.parseAll(Repo.read(ROOT.resolve("k8s/base/kafka/kafka.yaml")))) {
            if (doc.path("kind").asText().equals("Kafka")) {
                String version = doc.path("spec").path("kafka").path("version").asText();
                assertTrue(supported.contains(version), "Kafka " + version + " is not one " + strimzi.getFileName()
                        + " runs: " + supported);
            }
        }
    }

    static Map<String, String> dotEnv() {
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : Repo.read(ROOT.resolve(".env")).split("\n")) {
            String t = line.trim();
            if (!t.isEmpty() && !t.startsWith("#")) {
                int eq = t.indexOf('=');
                assertFalse(eq < 0, ".env line without '=': " + t);
                env.put(t.substring(0, eq), t.substring(eq + 1));
            }
        }
        return env;
    }

    static Map<String, String> dockerfileImageArgs(String dockerfile) {
        Map<String, String> args = new LinkedHashMap<>();
        Matcher m = Pattern.compile("^ARG\\s+([A-Z_]+_IMAGE)=(\\S+)", Pattern.MULTILINE).matcher(dockerfile);
        while (m.find()) {
            args.put(m.group(1), m.group(2));
        }
        return args;
    }
}
