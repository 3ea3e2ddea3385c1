package mav.gateway;

import io.quarkus.runtime.ShutdownEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import mav.common.event.StageName;
import mav.common.kafka.ConsumerGroupLag;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.eclipse.microprofile.openapi.annotations.Operation;

/**
 * Per-stage throughput, latency and jobs in flight from the status stream (the window of {@code
 * mav.gateway.stats-window}), and consumer lag from the stages' consumer groups, as {@code ./mav top} shows them.
 */
@Path("/v1/stages")
@ApplicationScoped
public class StagesResource {
    /** Each stage's input topic and consumer group (the stages' application.properties). */
    private static final Map<StageName, String[]> INPUTS = Map.of(
            StageName.PRIOR, new String[] {"prompts", "mav-prior"},
            StageName.DECODER, new String[] {"embeddings", "mav-decoder"},
            StageName.INTERPOLATION, new String[] {"keyframes", "mav-interpolation"},
            StageName.SR_LOW, new String[] {"frames-64", "mav-sr-low"},
            StageName.SR_HIGH, new String[] {"frames-256", "mav-sr-high"});

    @Inject
    JobIndex index;
    @Inject
    GatewayConfig config;
    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private Admin admin;

    @GET
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Per-stage throughput (jobs/min), p50/p95 latency, jobs in flight and consumer lag")
    public Map<String, Object> stages() {
        var windows = index.stageWindows(config.gateway().statsWindow());
        double minutes = config.gateway().statsWindow().toSeconds() / 60.0;
        List<Map<String, Object>> out = new ArrayList<>();
        for (StageName s : StageName.values()) {
            JobIndex.StageWindow w = windows.get(s);
            long[] ms = w.finished().stream().filter(f -> !f.failed()).mapToLong(JobIndex.Finished::ms).sorted()
                    .toArray();
            long failed = w.finished().stream().filter(JobIndex.Finished::failed).count();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("stage", s.id());
            m.put("completed", ms.length);
            m.put("failed", failed);
            m.put("throughput_per_min", Math.round(ms.length / minutes * 100) / 100.0);
            m.put("latency_p50_ms", percentile(ms, 0.50));
            m.put("latency_p95_ms", percentile(ms, 0.95));
            m.put("in_flight", w.running());
            m.put("lag", lag(s));
            out.add(m);
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("window_seconds", config.gateway().statsWindow().toSeconds());
        body.put("source", "completed, failed, latency and in_flight from " + config.topicPrefix()
                + "status (started to done per job); lag from each stage's consumer group on its input topic");
        body.put("stages", out);
        return body;
    }

    /** Nearest-rank percentile; null when nothing finished in the window. */
    static Long percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return null;
        }
        int rank = (int) Math.ceil(p * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    /** Records the stage's group has not consumed yet, or null when Kafka does not answer. */
    private Long lag(StageName stage) {
        String topic = config.topicPrefix() + INPUTS.get(stage)[0];
        try {
            return ConsumerGroupLag.of(admin(), topic, INPUTS.get(stage)[1], Duration.ofSeconds(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        } catch (Exception e) {
            return null;
        }
    }

    private synchronized Admin admin() {
        if (admin == null) {
            Properties p = new Properties();
            p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 5_000);
            p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 10_000);
            admin = Admin.create(p);
        }
        return admin;
    }

    void onStop(@Observes ShutdownEvent e) {
        if (admin != null) {
            admin.close();
        }
    }
}
