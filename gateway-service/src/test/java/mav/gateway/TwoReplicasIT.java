package mav.gateway;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StageName;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Two gateway replicas, the packaged jar run twice as separate processes against one real broker and S3 server:
 * what one accepts the other answers for (GET, list, events, content, cancel), the in-flight cap is shared, the rate
 * limit is per replica, and a callback is delivered once, by one of them.
 */
class TwoReplicasIT {
    private static final Duration WAIT = Duration.ofSeconds(30);
    private static final String KEY = "replica-key";
    private static final String RATE_KEY = "rate-key";
    private static final HttpClient HTTP = HttpClient.newHttpClient();
    private static final KafkaAndS3 BACKEND = new KafkaAndS3();
    private static final List<Process> GATEWAYS = new ArrayList<>();
    private static String a;
    private static String b;
    private static StagePlayer stages;

    @BeforeAll
    static void start() throws Exception {
        Map<String, String> backend = BACKEND.start();
        // StagePlayer reads these through MicroProfile Config, which sees system properties
        backend.forEach(System::setProperty);
        stages = new StagePlayer();
        a = gateway("a", backend);
        b = gateway("b", backend);
        for (String url : List.of(a, b)) {
            await().atMost(Duration.ofSeconds(120)).pollInterval(Duration.ofMillis(500)).ignoreExceptions()
                    .until(() -> HTTP.send(HttpRequest.newBuilder(URI.create(url + "q/health/ready")).build(),
                            HttpResponse.BodyHandlers.discarding()).statusCode() == 200);
        }
    }

    private static String gateway(String name, Map<String, String> backend) throws IOException {
        Path jar = Path.of(System.getProperty("mav.gateway.jar", "target/quarkus-app/quarkus-run.jar"));
        assertTrue(Files.exists(jar), jar + " is missing: package the gateway first (mvn verify does)");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-jar", jar.toAbsolutePath().toString()).redirectErrorStream(true)
                .redirectOutput(Path.of("target", "gateway-" + name + ".log").toFile());
        Map<String, String> env = pb.environment();
        env.put("QUARKUS_HTTP_PORT", String.valueOf(port));
        env.put("KAFKA_BOOTSTRAP_SERVERS", backend.get("kafka.bootstrap.servers"));
        env.put("MAV_S3_ENDPOINT", backend.get("mav.s3.endpoint"));
        env.put("MAV_S3_ACCESS_KEY", backend.get("mav.s3.access-key"));
        env.put("MAV_S3_SECRET_KEY", backend.get("mav.s3.secret-key"));
        env.put("MAV_S3_BUCKET", backend.get("mav.s3.bucket"));
        env.put("MAV_GATEWAY_API_KEYS", KEY + "," + RATE_KEY + ",other-key");
        env.put("MAV_GATEWAY_SUBMISSION_BURST", "3");
        env.put("MAV_GATEWAY_SUBMISSIONS_PER_MINUTE", "1");
        env.put("MAV_GATEWAY_MAX_IN_FLIGHT", "4");
        env.put("QUARKUS_LOG_CATEGORY__ORG_APACHE_KAFKA__LEVEL", "WARN");
        env.put("MAV_GATEWAY_CALLBACK_ALLOW_PRIVATE", "true");
        GATEWAYS.add(pb.start());
        return "http://127.0.0.1:" + port + "/";
    }

    @AfterAll
    static void stop() throws InterruptedException {
        for (Process p : GATEWAYS) {
            p.destroy();
        }
        for (Process p : GATEWAYS) {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
        if (stages != null) {
            stages.close();
        }
        BACKEND.stop();
    }

    private static HttpResponse<String> call(String base, String method, String path, String body) throws Exception {
        return call(base, method, path, body, KEY);
    }

    private static HttpResponse<String> call(String base, String method, String path, String body, String key)
            throws Exception {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + path.substring(1)))
                .header("Authorization", "Bearer " + key).timeout(Duration.ofSeconds(30))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            r.header("Content-Type", "application/json");
        }
        return HTTP.send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static JsonNode json(HttpResponse<String> r) throws IOException {
        return EventCodec.mapper().readTree(r.body());
    }

    private static String submit(String base, String body) throws Exception {
        HttpResponse<String> r = call(base, "POST", "/v1/videos", body);
        assertEquals(202, r.statusCode(), r.body());
        return json(r).path("id").asText();
    }

    @Test
    void aJobAcceptedByOneReplicaIsAnsweredForByTheOtherAndItsCallbackComesOnce() throws Exception {
        List<String> hooks = new CopyOnWriteArrayList<>();
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", ex -> {
            hooks.add(ex.getRequestHeaders().getFirst("X-MAV-Delivery"));
            ex.sendResponseHeaders(204, -1);
            ex.close();
        });
        receiver.start();
        try {
            String hook = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
            String id = submit(a, "{\"prompt\": \"seen from both\", \"seed\": 5, \"callback_url\": \"" + hook + "\"}");
            await().atMost(WAIT).until(() -> call(b, "GET", "/v1/videos/" + id, null).statusCode() == 200);
            assertEquals("queued", json(call(b, "GET", "/v1/videos/" + id, null)).path("status").asText());
            JsonNode list = json(call(b, "GET", "/v1/videos?limit=100", null));
            assertTrue(list.path("data").findValuesAsText("id").contains(id), list.toString());

            // B's event stream follows what the stages report, to the end
            List<String> states = new CopyOnWriteArrayList<>();
            HttpResponse<java.io.InputStream> sse = HTTP.send(HttpRequest.newBuilder(URI.create(b + "v1/videos/" + id
                    + "/events")).header("Authorization", "Bearer " + KEY).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, sse.statusCode());
            CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(sse.body(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.startsWith("data:")) {
                            states.add(EventCodec.mapper().readTree(line.substring(5).trim()).path("status").asText());
                        }
                    }
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            stages.runUpTo(id, StageName.SR_HIGH);
            stages.finish(id, PromptRequest.of(id, "seen from both"));
            reader.get(30, TimeUnit.SECONDS);
            assertEquals("completed", states.get(states.size() - 1), states.toString());

            for (String replica : List.of(a, b)) {
                HttpResponse<byte[]> mp4 = HTTP.send(HttpRequest.newBuilder(URI.create(replica + "v1/videos/" + id
                        + "/content")).header("Authorization", "Bearer " + KEY).build(),
                        HttpResponse.BodyHandlers.ofByteArray());
                assertEquals(200, mp4.statusCode());
                assertArrayEquals(Files.readAllBytes(StagePlayer.video()), mp4.body());
                JsonNode job = json(call(replica, "GET", "/v1/videos/" + id, null));
                assertEquals("completed", job.path("status").asText());
                assertEquals(768, job.path("metadata").path("video").path("width").asInt());
            }
            await().atMost(WAIT).until(() -> hooks.size() >= 1);
            Thread.sleep(2000); // the other replica would have delivered by now too
            assertEquals(List.of(id + ".completed"), hooks, "one delivery, by one replica");

            // a cancel through B holds on A
            String other = submit(a, "{\"prompt\": \"cancelled from the other side\"}");
            stages.started(other, StageName.PRIOR);
            await().atMost(WAIT).until(() -> call(b, "GET", "/v1/videos/" + other, null).statusCode() == 200);
            assertEquals("cancelled", json(call(b, "DELETE", "/v1/videos/" + other, null)).path("status").asText());
            await().atMost(WAIT).until(() -> "cancelled".equals(json(call(a, "GET", "/v1/videos/" + other, null))
                    .path("status").asText()));
            // another key sees none of it on either replica
            for (String replica : List.of(a, b)) {
                HttpResponse<String> foreign = HTTP.send(HttpRequest.newBuilder(URI.create(replica + "v1/videos/" + id))
                        .header("Authorization", "Bearer other-key").build(), HttpResponse.BodyHandlers.ofString());
                assertEquals(404, foreign.statusCode());
            }
        } finally {
            receiver.stop(0);
        }
    }

    @Test
    void theRateLimitIsPerReplicaAndTheInFlightCapIsShared() throws Exception {
        // a key of its own: burst 3 per replica, at most 4 jobs in flight in all
        for (int i = 0; i < 3; i++) {
            assertEquals(202, call(a, "POST", "/v1/videos", "{\"prompt\": \"burst " + i + "\"}", RATE_KEY)
                    .statusCode());
        }
        HttpResponse<String> limited = call(a, "POST", "/v1/videos", "{\"prompt\": \"a fourth on A\"}", RATE_KEY);
        assertEquals(429, limited.statusCode(), limited.body());
        assertTrue(limited.body().contains("rate limit"), limited.body());
        assertTrue(limited.headers().firstValue("Retry-After").isPresent());
        // B's bucket is its own: the same key may submit there (the limit is per replica)
        await().atMost(WAIT).until(() -> inFlight(b, RATE_KEY) == 3);
        assertEquals(202, call(b, "POST", "/v1/videos", "{\"prompt\": \"first on B\"}", RATE_KEY).statusCode());
        // the cap is read from the shared status stream: 3 through A and 1 through B fill it on both replicas
        await().atMost(WAIT).until(() -> inFlight(a, RATE_KEY) == 4);
        for (String replica : List.of(b, a)) {
            HttpResponse<String> r = call(replica, "POST", "/v1/videos", "{\"prompt\": \"over the cap\"}", RATE_KEY);
            assertEquals(429, r.statusCode(), r.body());
            assertTrue(r.body().contains("in flight"), r.body());
        }
    }

    private static long inFlight(String replica, String key) throws Exception {
        JsonNode list = json(call(replica, "GET", "/v1/videos?limit=100", null, key));
        long n = 0;
        for (JsonNode j : list.path("data")) {
            String s = j.path("status").asText();
            n += s.equals("queued") || s.equals("in_progress") ? 1 : 0;
        }
        return n;
    }
}
