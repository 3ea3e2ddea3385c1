package mav.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** One replica of one stage service: {@code java -jar <module>/target/quarkus-app/quarkus-run.jar} on its port. */
final class StageProcess {
    /**
     * SIGTERM, then SIGKILL this much later; services drain for 10 s less (MAV_DRAIN_SECONDS), which leaves them
     * time to close their Kafka clients. An idle service stops in a few seconds; only a job in flight uses it.
     */
    static final int STOP_GRACE_SECONDS = 40;
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final Stage stage;
    final int replica;
    final int port;
    private ChildProcess process;
    private static final ObjectMapper MAPPER = new ObjectMapper();
    private String lastHealth = "(no answer yet)";
    private volatile String modelError;

    StageProcess(Stage stage, int replica, int port) {
        this.stage = stage;
        this.replica = replica;
        this.port = port;
    }

    String role() {
        return stage.id() + "-" + replica;
    }

    String url() {
        return "http://localhost:" + port;
    }

    ChildProcess process() {
        return process;
    }

    void start(Layout layout, Map<String, String> env, List<String> jvmOptions) {
        var jar = layout.serviceJar(stage);
        if (!Files.exists(jar)) {
            throw new StackException(jar + " is missing: build the services first (mvn -DskipTests package)");
        }
        ChildProcess.requireFree(port, stage.module + " HTTP");
        List<String> jvm = new ArrayList<>(jvmOptions);
        jvm.add("-jar");
        jvm.add(jar.toString());
        process = ChildProcess.startJava(role(), jvm, List.of(), env,
                layout.logs().resolve(role() + ".log"), layout.root());
    }

    private HttpRequest readiness(Duration timeout) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/q/health/ready")).timeout(timeout)
                .GET().build();
    }

    /** The HTTP status {@code /q/health/ready} answers (200 UP, 503 DOWN), or -1 when none comes within {@code timeout}. */
    int readyStatus(Duration timeout) {
        try {
            return HTTP.send(readiness(timeout), HttpResponse.BodyHandlers.discarding()).statusCode();
        } catch (java.io.IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }

    /** True once {@code /q/health/ready} answers 200 with status UP. */
    boolean ready() {
        try {
            HttpResponse<String> r = HTTP.send(readiness(Duration.ofSeconds(3)), HttpResponse.BodyHandlers.ofString());
            lastHealth = r.statusCode() + " " + r.body().replaceAll("\\s+", " ");
            modelError = null;
            try {
                JsonNode body = MAPPER.readTree(r.body());
                StringBuilder down = new StringBuilder();
                for (JsonNode c : body.path("checks")) {
                    if (!"UP".equals(c.path("status").asText())) {
                        down.append(down.length() == 0 ? "" : "; ").append(c.path("name").asText()).append(" DOWN ")
                                .append(c.path("data"));
                        String detail = c.path("data").path("detail").asText("");
                        if (c.path("name").asText().equals("models") && !detail.isEmpty()
                                && !detail.equals("models are loading")) {
                            modelError = detail;
                        }
                    }
                }
                if (down.length() > 0) {
                    lastHealth = r.statusCode() + " " + down;
                }
            } catch (Exception notJson) {
                // keep the raw body
            }
            return r.statusCode() == 200 && r.body().contains("\"UP\"");
        } catch (Exception e) {
            lastHealth = "(no answer: " + e.getClass().getSimpleName() + ")";
            return false;
        }
    }

    /** Why the models failed to load, once the service says so (it then never becomes ready); else null. */
    String modelError() {
        return modelError;
    }

    String lastHealth() {
        return lastHealth;
    }

    boolean isAlive() {
        return process != null && process.isAlive();
    }

    void stop() {
        if (process != null) {
            process.stop(STOP_GRACE_SECONDS);
        }
    }
}
