package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * With Prometheus' promtool (Debian package prometheus): the compose Prometheus config is valid (with the rule
 * files it loads), every alert and every dashboard query parses as PromQL, and the alerts fire (and stay quiet)
 * on synthetic series (src/test/resources/alerts-test.yml). Without promtool: the compose Prometheus loads the
 * PrometheusRule's alerts, and the alert tests use only failure reasons the stages emit.
 */
class PromToolTest {

    @TempDir
    Path dir;

    private static Path promtool() {
        Optional<Path> p = Tools.find("PROMTOOL", "promtool");
        assumeTrue(p.isPresent(), "promtool not found (apt-get install prometheus): PromQL not checked");
        return p.get();
    }

    private static void ok(Tools.Result r, String what) {
        assertEquals(0, r.exitCode(), what + " failed:\n" + r.stdout() + r.stderr());
    }

    /** The groups of the PrometheusRule as a plain rule file, optionally without annotations. */
    private Path ruleFile(boolean withAnnotations) throws IOException {
        JsonNode rule = Manifests.parseAll(Repo.read(Repo.root().resolve("k8s/base/monitoring/prometheusrule.yaml")))
                .get(0);
        ObjectNode file = Manifests.YAML.createObjectNode();
        ArrayNode groups = rule.path("spec").path("groups").deepCopy();
        if (!withAnnotations) {
            groups.forEach(g -> g.path("rules").forEach(r -> ((ObjectNode) r).remove("annotations")));
        }
        file.set("groups", groups);
        Path out = dir.resolve("rules.yml");
        Manifests.YAML.writeValue(out.toFile(), file);
        return out;
    }

    @Test
    void prometheusConfigIsValid() {
        ok(Tools.run(Repo.root(), List.of(promtool().toString(), "check", "config", "deploy/prometheus/prometheus.yml")),
                "promtool check config");
    }

    @Test
    void alertRulesParse() throws IOException {
        Path rules = ruleFile(true);
        ok(Tools.run(dir, List.of(promtool().toString(), "check", "rules", rules.toString())), "promtool check rules");
    }

    @Test
    void dashboardQueriesParse() throws IOException {
        Path promtool = promtool();
        JsonNode dash = Manifests.STRICT.readTree(
                Repo.root().resolve("k8s/base/monitoring/mav-pipeline-dashboard.json").toFile());
        ArrayNode rules = Manifests.YAML.createArrayNode();
        int i = 0;
        for (JsonNode panel : dash.path("panels")) {
            for (JsonNode t : panel.path("targets")) {
                ObjectNode r = rules.addObject();
                r.put("record", "dashboard:panel" + panel.path("id").asInt() + ":" + i++);
                // Grafana variables: $stage is a regex (All = .*).
                r.put("expr", t.path("expr").asText().replace("$stage", ".*"));
            }
        }
        ObjectNode file = Manifests.YAML.createObjectNode();
        file.putArray("groups").addObject().put("name", "dashboard").set("rules", rules);
        Path out = dir.resolve("dashboard-rules.yml");
        Manifests.YAML.writeValue(out.toFile(), file);
        ok(Tools.run(dir, List.of(promtool.toString(), "check", "rules", out.toString())), "dashboard PromQL");
    }

    /** The compose Prometheus loads rule files, and they hold exactly the PrometheusRule's groups. */
    @Test
    void composePrometheusLoadsTheAlertRules() throws IOException {
        Path dirOfConfig = Repo.root().resolve("deploy/prometheus");
        JsonNode config = Manifests.YAML.readTree(dirOfConfig.resolve("prometheus.yml").toFile());
        ArrayNode loaded = Manifests.YAML.createArrayNode();
        int files = 0;
        for (JsonNode glob : config.path("rule_files")) {
            java.nio.file.PathMatcher matcher = dirOfConfig.getFileSystem()
                    .getPathMatcher("glob:" + dirOfConfig.resolve(glob.asText()));
            try (java.util.stream.Stream<Path> all = Files.walk(dirOfConfig)) {
                for (Path f : all.filter(matcher::matches).sorted().toList()) {
                    Manifests.YAML.readTree(f.toFile()).path("groups").forEach(loaded::add);
                    files++;
                }
            }
        }
        assertTrue(files > 0, "deploy/prometheus/prometheus.yml loads no rule file");
        JsonNode rule = Manifests.parseAll(Repo.read(Repo.root().resolve("k8s/base/monitoring/prometheusrule.yaml")))
                .get(0);
        assertEquals(rule.path("spec").path("groups"), loaded,
                "deploy/prometheus/rules differ from k8s/base/monitoring/prometheusrule.yaml's spec.groups");
    }

    /** Failure reasons in the alert tests are tags the stages emit (StageMetrics.FailureReason), not inventions. */
    @Test
    void alertTestsUseOnlyFailureReasonsTheCodeEmits() throws IOException {
        String metrics = Repo.read(Repo.root().resolve("common/src/main/java/mav/common/stage/StageMetrics.java"));
        java.util.regex.Matcher e = java.util.regex.Pattern.compile("enum FailureReason \\{([^;}]*)").matcher(metrics);
        assertTrue(e.find(), "StageMetrics.FailureReason not found");
        java.util.Set<String> tags = new java.util.TreeSet<>();
        for (String constant : e.group(1).split(",")) {
            tags.add(constant.trim().toLowerCase());
        }
        String tests;
        try (InputStream in = PromToolTest.class.getResourceAsStream("/alerts-test.yml")) {
            tests = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
        java.util.regex.Matcher r = java.util.regex.Pattern.compile("reason=\"([^\"]+)\"").matcher(tests);
        int seen = 0;
        while (r.find()) {
            assertTrue(tags.contains(r.group(1)), "alerts-test.yml uses reason=\"" + r.group(1)
                    + "\", which the stages never emit (StageMetrics.FailureReason: " + tags + ")");
            seen++;
        }
        assertTrue(seen > 0, "alerts-test.yml has no failure reason to check");
    }

    @Test
    void alertsFireOnSyntheticSeries() throws IOException {
        Path promtool = promtool();
        ruleFile(false);
        Path tests = dir.resolve("alerts-test.yml");
        try (InputStream in = PromToolTest.class.getResourceAsStream("/alerts-test.yml")) {
            Files.copy(in, tests, StandardCopyOption.REPLACE_EXISTING);
        }
        ok(Tools.run(dir, List.of(promtool.toString(), "test", "rules", tests.toString())), "promtool test rules");
    }
}
