package mav.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * With Prometheus' promtool (Debian package prometheus): the compose Prometheus config is valid, every alert and
 * every dashboard query parses as PromQL, and the alerts fire (and stay quiet) on synthetic series
 * (src/test/resources/alerts-test.yml).
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
