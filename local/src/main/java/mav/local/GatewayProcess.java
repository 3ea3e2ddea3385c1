package mav.local;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * gateway-service beside the stages ({@code ./mav up}): {@code java -jar gateway-service/target/quarkus-app/
 * quarkus-run.jar} on its port, pointed at the stack's Kafka and S3, without API keys (the page says so).
 */
final class GatewayProcess {
    static final String ROLE = "gateway";
    static final String MODULE = "gateway-service";
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    final int port;
    private ChildProcess process;
    private String lastHealth = "(no answer yet)";

    GatewayProcess(int port) {
        this.port = port;
    }

    /** The page and the API; 127.0.0.1, as the stack's other listeners. */
    String url() {
        return "http://127.0.0.1:" + port + "/";
    }

    ChildProcess process() {
        return process;
    }

    void start(Layout layout, Endpoints e, List<String> jvmOptions) {
        var jar = layout.moduleJar(MODULE);
        if (!Files.exists(jar)) {
            throw new StackException(jar + " is missing: build it first (mvn -DskipTests package), or pass"
                    + " --no-gateway");
        }
        ChildProcess.requireFree(port, "gateway-service HTTP (--gateway-port)");
        Map<String, String> env = e.serviceEnv();
        env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        List<String> jvm = new ArrayList<>(jvmOptions);
        jvm.add("-jar");
        jvm.add(jar.toString());
        process = ChildProcess.startJava(ROLE, jvm, List.of(), env, layout.logs().resolve(ROLE + ".log"),
                layout.root());
    }

    /** Waits until {@code /q/health/ready} is UP: the gateway has read mav.status and reaches S3. */
    void awaitReady(int timeoutSeconds) {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        while (!ready()) {
            if (!process.isAlive()) {
                throw new StackException("gateway-service (port " + port + ") exited with status "
                        + process.process.exitValue() + " while starting; log " + process.log + ":\n"
                        + process.tail(40));
            }
            if (System.nanoTime() > deadline) {
                throw new StackException("gateway-service (port " + port + ") is not ready after " + timeoutSeconds
                        + " s; /q/health/ready says: " + lastHealth + "\nlog " + process.log + ":\n"
                        + process.tail(40));
            }
            ChildProcess.sleep(500);
        }
    }

    private boolean ready() {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
                    + "/q/health/ready")).timeout(Duration.ofSeconds(3)).GET().build(),
                    HttpResponse.BodyHandlers.ofString());
            lastHealth = r.statusCode() + " " + r.body().replaceAll("\\s+", " ");
            return r.statusCode() == 200;
        } catch (Exception e) {
            lastHealth = "(no answer: " + e.getClass().getSimpleName() + ")";
            return false;
        }
    }

    void stop() {
        if (process != null) {
            process.stop(StageProcess.STOP_GRACE_SECONDS);
        }
    }
}
