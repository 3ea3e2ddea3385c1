package mav.local;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
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
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageTiming;
import mav.common.event.StatusEvent;
import mav.common.event.StageName;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * The whole pipeline on this machine: the embedded broker and S3Proxy, the five service jars built earlier in the
 * reactor, the tiny models of {@code testing/models/} (or trained ones in {@code models/}) and two denoising steps
 * per stage. Jobs go in through kcat (or Kafka's console producer) as any outside client would send them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocalPipelineIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Duration JOB_TIMEOUT = Duration.ofSeconds(240);
    private static final int MAX_POLL_INTERVAL_MS = 3000;

    private Path root;
    private Layout layout;
    private Path models;
    private LocalStack stack;
    private Endpoints endpoints;
    private KafkaConsumer<String, String> consumer;
    private final List<ConsumerRecord<String, String>> seen = new CopyOnWriteArrayList<>();
    private String goodJobJson;
    private String goodJobId;
    private StageEvent firstResult;

    @BeforeAll
    void startStack() throws IOException {
        root = Path.of(System.getProperty("mav.repo.root", "..")).toAbsolutePath().normalize();
        for (Stage s : Stage.values()) {
            Path jar = root.resolve(s.module).resolve("target/quarkus-app/quarkus-run.jar");
            assertTrue(Files.exists(jar), jar + " is missing: run mvn verify from the repository root, which builds"
                    + " the services before this module");
        }
        Path state = root.resolve("local/target/it-state");
        Layout.deleteTree(state);
        layout = Layout.of(root, state);
        models = System.getProperty("mav.it.models") != null
                ? Path.of(System.getProperty("mav.it.models")).toAbsolutePath() : layout.defaultModels();
        assertTrue(Layout.isComplete(models), "no complete model repository in models/ or testing/models/: " + models);
        int kafkaPort = ChildProcess.freePort();
        int basePort = ChildProcess.freeBase();
        StackOptions options = new StackOptions(kafkaPort, ChildProcess.freePort(), ChildProcess.freePort(), basePort,
                null, null, "minioadmin", "minioadmin", "mav", "mav.", 2, models, Map.of(), 1, 1, true, 240,
                List.of("-XX:TieredStopAtLevel=1", "-Xmx1500m",
                        // far below Kafka's 5 min default: a consumer that polled only between jobs would be thrown
                        // out of its group and get the job again; the first test proves the services do not
                        "-Dmp.messaging.incoming.in.max.poll.interval.ms=" + MAX_POLL_INTERVAL_MS),
                ChildProcess.freePort());
        System.out.println("IT: models " + models + ", Kafka port " + kafkaPort + ", services from port " + basePort
                + ", state " + state);
        stack = LocalStack.start(layout, options, s -> System.out.println("IT: " + s));
        endpoints = stack.endpoints();

        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafka());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // results and done/failed statuses are written in transactions: see only committed ones, each once
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        List<TopicPartition> parts = new ArrayList<>();
        for (String t : List.of("status", "videos", "dead-letter")) {
            consumer.partitionsFor(endpoints.topic(t)).forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
        }
        consumer.assign(parts);
        consumer.seekToBeginning(parts);
    }

    @AfterAll
    void stopStack() {
        if (consumer != null) {
            consumer.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(1)
    void aPromptFromKcatBecomesA768VideoWithMetadata() throws Exception {
        goodJobId = "it-good-" + System.currentTimeMillis();
        goodJobJson = EventCodec.toJson(new PromptRequest(goodJobId, "a red fish swimming left", null, 42L, 8, null,
                Map.of("prior", 2, "decoder", 2, "interpolation", 2, "srLow", 2, "srHigh", 2)));
        publish(endpoints.topic("prompts"), goodJobId, goodJobJson);
        firstResult = awaitVideo(goodJobId);

        // a stage ran longer than the consumer's max.poll.interval.ms, yet no stage got the job twice
        long longest = firstResult.timings().values().stream().mapToLong(StageTiming::totalMs).max().orElse(0);
        assertTrue(longest > MAX_POLL_INTERVAL_MS, "the longest stage took " + longest + " ms: not longer than "
                + "max.poll.interval.ms, so this run proves nothing about long jobs");
        for (StageName s : StageName.values()) {
            long started = statuses(goodJobId).stream().filter(st -> st.stage().equals(s.id())
                    && st.state() == StatusEvent.State.STARTED).count();
            assertEquals(1, started, s.id() + " started the job " + started + " times (a rebalance redelivered it)");
        }

        assertEquals(StageName.SR_HIGH, firstResult.stage());
        for (StageName s : StageName.values()) {
            assertNotNull(firstResult.modelVersions().get(s.id()), "model version of " + s.id());
            StageTiming t = firstResult.timings().get(s);
            assertNotNull(t, "timing of " + s.id());
            assertTrue(t.inferenceMs() > 0 && t.totalMs() >= t.inferenceMs(), s.id() + " timing " + t);
        }

        Path out = layout.stateDir().resolve("out");
        List<Path> files = new Downloader(endpoints).download(goodJobId, out);
        Path mp4 = files.get(0);
        assertTrue(Files.size(mp4) > 1000, mp4 + " is only " + Files.size(mp4) + " bytes");

        JsonNode probe = ffprobe(mp4);
        JsonNode video = null;
        for (JsonNode s : probe.path("streams")) {
            if ("video".equals(s.path("codec_type").asText())) {
                video = s;
            }
        }
        assertNotNull(video, "no video stream: " + probe);
        assertEquals("h264", video.path("codec_name").asText());
        assertEquals("yuv420p", video.path("pix_fmt").asText());
        assertEquals(768, video.path("width").asInt());
        assertEquals(768, video.path("height").asInt());
        assertEquals(76, video.path("nb_read_frames").asInt(), "decoded frames");

        Path metaFile = out.resolve(goodJobId + ".json");
        assertTrue(Files.exists(metaFile), "metadata JSON downloaded");
        JsonNode meta = JSON.readTree(metaFile.toFile());
        assertEquals(goodJobId, meta.path("jobId").asText());
        assertEquals(42, meta.path("seed").asLong());
        for (StageName s : StageName.values()) {
            assertFalse(meta.path("modelVersions").path(s.id()).asText().isEmpty(), "modelVersions." + s.id()
                    + " in " + meta);
        }
        // the metadata is written inside sr-high, so it has the timings of the four stages before it
        for (StageName s : List.of(StageName.PRIOR, StageName.DECODER, StageName.INTERPOLATION, StageName.SR_LOW)) {
            assertTrue(meta.path("timings").path(s.id()).path("inferenceMs").asLong() > 0, "timings." + s.id()
                    + " in " + meta.path("timings"));
        }
        // the request left the decoder's guidance to the model: the record names the scale its manifest applied
        assertTrue(meta.path("request").path("guidanceScale").isMissingNode()
                || meta.path("request").path("guidanceScale").isNull(), "request as sent: " + meta.path("request"));
        String decoderVersion = meta.path("modelVersions").path("decoder").asText();
        double manifestScale = JSON.readTree(models.resolve(decoderVersion).resolve("manifest.json").toFile())
                .path("scheduler").path("default_guidance_scale").asDouble();
        assertEquals(manifestScale, meta.path("sampling").path("decoder").path("guidanceScale").asDouble(),
                "sampling in " + meta);
        for (StageName s : StageName.values()) {
            assertEquals(2, meta.path("sampling").path(s.id()).path("steps").asInt(), "sampling." + s.id()
                    + " in " + meta.path("sampling"));
        }
        assertTrue(Files.exists(out.resolve(goodJobId + ".png")), "poster PNG downloaded");
    }

    @Test
    @Order(2)
    void malformedAndEmptyPromptsFailToTheDeadLetterTopicWhileAGoodJobCompletes() throws Exception {
        String bad = "it-bad-" + System.currentTimeMillis();
        String empty = "it-empty-" + System.currentTimeMillis();
        String good = "it-after-" + System.currentTimeMillis();
        publish(endpoints.topic("prompts"), bad, "{not json");
        publish(endpoints.topic("prompts"), empty, "{\"jobId\":\"" + empty + "\",\"prompt\":\"\"}");
        publish(endpoints.topic("prompts"), good, EventCodec.toJson(new PromptRequest(good, "a yellow star", null, 7L,
                null, null, Map.of("prior", 1, "decoder", 1, "interpolation", 1, "srLow", 1, "srHigh", 1))));

        for (String job : List.of(bad, empty)) {
            StatusEvent failed = awaitRecord(() -> statuses(job).stream()
                    .filter(s -> s.state() == StatusEvent.State.FAILED).findFirst().orElse(null), JOB_TIMEOUT);
            assertEquals("prior", failed.stage());
            assertTrue(failed.message() != null && !failed.message().isBlank(), "a reason: " + failed);
            ConsumerRecord<String, String> dl = awaitRecord(() -> seen.stream()
                    .filter(r -> r.topic().equals(endpoints.topic("dead-letter")) && job.equals(r.key()))
                    .findFirst().orElse(null), Duration.ofSeconds(60));
            assertNotNull(dl.value());
            var reason = dl.headers().lastHeader("dead-letter-reason");
            assertNotNull(reason, "the dead letter carries its reason in a header");
            System.out.println("IT: " + job + " failed: " + failed.message() + "; dead-letter-reason: "
                    + new String(reason.value(), StandardCharsets.UTF_8));
        }
        assertTrue(statuses(empty).stream().anyMatch(s -> s.state() == StatusEvent.State.FAILED
                && s.message().contains("prompt")), "the empty prompt's reason names the prompt: " + statuses(empty));
        assertEquals(StageName.SR_HIGH, awaitVideo(good).stage());
    }

    @Test
    @Order(3)
    void aRedeliveredJobCompletesWithoutNewInference() throws Exception {
        assertNotNull(firstResult, "needs the first test's job");
        int videosBefore = videos(goodJobId).size();
        publish(endpoints.topic("prompts"), goodJobId, goodJobJson);
        StageEvent again = awaitRecord(() -> {
            List<StageEvent> v = videos(goodJobId);
            return v.size() > videosBefore ? v.get(v.size() - 1) : null;
        }, JOB_TIMEOUT);
        assertEquals(firstResult.timings(), again.timings(), "the republished event carries the first run's timings");
        List<StatusEvent> st = statuses(goodJobId);
        assertTrue(st.stream().anyMatch(s -> s.message() != null && s.message().startsWith("already done")),
                "a stage reported 'already done': " + st);
    }

    @Test
    @Order(4)
    void aMidPipelineEventForAnUnknownJobFailsWithTheMissingObjectAndIsDeadLettered() throws Exception {
        String ghost = "it-ghost-" + System.currentTimeMillis();
        StageEvent event = new StageEvent(PromptRequest.of(ghost, "a green star").withDefaults(), StageName.DECODER,
                Map.of("image_embed", "jobs/" + ghost + "/prior/image_embed.npy",
                        "keyframes", "jobs/" + ghost + "/decoder/keyframes.npy"), Map.of(), Map.of(), Map.of());
        publish(endpoints.topic("keyframes"), ghost, EventCodec.toJson(event));
        StatusEvent failed = awaitRecord(() -> statuses(ghost).stream()
                .filter(s -> s.state() == StatusEvent.State.FAILED).findFirst().orElse(null), JOB_TIMEOUT);
        assertEquals("interpolation", failed.stage());
        assertTrue(failed.message().contains("jobs/" + ghost + "/decoder/keyframes.npy")
                && failed.message().contains("does not exist"), failed.message());
        awaitRecord(() -> seen.stream().filter(r -> r.topic().equals(endpoints.topic("dead-letter"))
                && ghost.equals(r.key())).findFirst().orElse(null), Duration.ofSeconds(60));
    }

    @Test
    @Order(5)
    void aJobCancelledThroughTheGatewayStopsInItsStageAndNoLaterStageRunsIt() throws Exception {
        String job = "it-cancel-" + System.currentTimeMillis();
        String api = stack.gateway().url() + "v1/videos";
        // the decoder's many steps keep it busy while the cancel lands
        HttpResponse<String> submitted = http(HttpRequest.newBuilder(URI.create(api))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"id\": \"" + job + "\", \"prompt\": \"a kite that never flies\", \"seed\": 3, \"steps\":"
                                + " {\"prior\": 1, \"decoder\": 1000, \"interpolation\": 1, \"srLow\": 1,"
                                + " \"srHigh\": 1}}")));
        assertEquals(202, submitted.statusCode(), submitted.body());
        awaitRecord(() -> statuses(job).stream().filter(s -> s.stage().equals("decoder")
                && s.state() == StatusEvent.State.PROGRESS && s.step() >= 2).findFirst().orElse(null), JOB_TIMEOUT);

        HttpResponse<String> cancelled = http(HttpRequest.newBuilder(URI.create(api + "/" + job)).DELETE());
        assertEquals(200, cancelled.statusCode(), cancelled.body());
        assertEquals("cancelled", JSON.readTree(cancelled.body()).path("status").asText());
        StatusEvent stopped = awaitRecord(() -> statuses(job).stream().filter(s -> s.stage().equals("decoder")
                && s.state() == StatusEvent.State.CANCELLED).findFirst().orElse(null), Duration.ofSeconds(60));
        int lastStep = statuses(job).stream().filter(s -> s.state() == StatusEvent.State.PROGRESS
                && s.stage().equals("decoder")).mapToInt(StatusEvent::step).max().orElse(0);
        System.out.println("IT: " + job + " cancelled in the decoder after step " + lastStep + " of 1000: "
                + stopped.message());
        assertTrue(lastStep < 1000, "the decoder stopped at a step boundary, not at its end: step " + lastStep);

        // give a wrongly forwarded job the time to reach the next stage, which runs one step
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
        while (System.nanoTime() < until) {
            consumer.poll(Duration.ofMillis(300)).forEach(seen::add);
        }
        List<StatusEvent> st = statuses(job);
        assertEquals(1, st.stream().filter(s -> s.state() == StatusEvent.State.CANCELLED
                && s.stage().equals("decoder")).count(), "one cancelled status from the decoder: " + st);
        assertFalse(st.stream().anyMatch(s -> s.stage().equals("decoder") && (s.state() == StatusEvent.State.DONE
                || s.state() == StatusEvent.State.FAILED)), "no done or failed from the decoder: " + st);
        assertFalse(st.stream().anyMatch(s -> List.of("interpolation", "sr-low", "sr-high").contains(s.stage())),
                "no later stage saw the job: " + st);
        assertTrue(videos(job).isEmpty(), "no final event");
        assertFalse(seen.stream().anyMatch(r -> r.topic().equals(endpoints.topic("dead-letter")) && job.equals(r.key())),
                "a cancelled job is no dead letter");
        var store = mav.common.store.BlobStore.connect(endpoints.s3(), endpoints.accessKey(), endpoints.secretKey(),
                endpoints.bucket());
        assertFalse(store.exists("videos/" + job + ".mp4"), "no video");
        assertFalse(store.exists("jobs/" + job + "/decoder/keyframes.npy"), "the decoder wrote no output");
        JsonNode view = JSON.readTree(http(HttpRequest.newBuilder(URI.create(api + "/" + job))).body());
        assertEquals("cancelled", view.path("status").asText(), view.toString());
        assertEquals("cancelled", view.path("stages").path(1).path("state").asText(), view.toString());
        assertEquals("pending", view.path("stages").path(2).path("state").asText(), view.toString());
    }

    // ---- helpers

    private static HttpResponse<String> http(HttpRequest.Builder request) throws Exception {
        return HttpClient.newHttpClient().send(request.timeout(Duration.ofSeconds(30)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private StageEvent awaitVideo(String job) {
        return awaitRecord(() -> {
            StatusEvent f = statuses(job).stream().filter(s -> s.state() == StatusEvent.State.FAILED).findFirst()
                    .orElse(null);
            if (f != null) {
                throw new AssertionError("job " + job + " failed in " + f.stage() + ": " + f.message() + "\n"
                        + serviceLogs());
            }
            List<StageEvent> v = videos(job);
            return v.isEmpty() ? null : v.get(0);
        }, JOB_TIMEOUT);
    }

    private <T> T awaitRecord(java.util.concurrent.Callable<T> find, Duration timeout) {
        Object[] found = new Object[1];
        try {
            await().atMost(timeout).pollInterval(Duration.ofMillis(200)).pollDelay(Duration.ZERO).until(() -> {
                consumer.poll(Duration.ofMillis(300)).forEach(seen::add);
                found[0] = find.call();
                return found[0] != null;
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("timed out after " + timeout.toSeconds() + " s\n" + serviceLogs(), e);
        }
        @SuppressWarnings("unchecked")
        T t = (T) found[0];
        return t;
    }

    private List<StatusEvent> statuses(String job) {
        List<StatusEvent> out = new ArrayList<>();
        for (ConsumerRecord<String, String> r : seen) {
            if (r.topic().equals(endpoints.topic("status")) && job.equals(r.key())) {
                out.add(EventCodec.fromJson(r.value(), StatusEvent.class));
            }
        }
        return out;
    }

    private List<StageEvent> videos(String job) {
        List<StageEvent> out = new ArrayList<>();
        for (ConsumerRecord<String, String> r : seen) {
            if (r.topic().equals(endpoints.topic("videos")) && job.equals(r.key())) {
                out.add(EventCodec.fromJson(r.value(), StageEvent.class));
            }
        }
        return out;
    }

    private String serviceLogs() {
        StringBuilder sb = new StringBuilder();
        for (StageProcess p : stack.services()) {
            sb.append("--- ").append(p.role()).append(" (").append(p.process().log).append(")\n")
                    .append(p.process().tail(15));
        }
        return sb.toString();
    }

    /** One keyed record, sent as an outside client would: kcat if installed, else Kafka's console producer. */
    @Test
    @Order(6)
    void idleStagesShowNoLagOnceTheirJobsAreDone() {
        // every stage topic is written in transactions and so ends with commit markers no consumer receives; an idle
        // stage commits past them, or KEDA would see a lag of one per partition and never scale it to zero
        try (ConsumerLag lag = new ConsumerLag(endpoints.kafka(), endpoints.topicPrefix())) {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofSeconds(2)).untilAsserted(() -> {
                for (Stage stage : Stage.values()) {
                    assertEquals(0, lag.lag(stage), stage.group + " on " + stage.inTopic + ", idle");
                }
            });
        }
    }

    private void publish(String topic, String key, String value) throws Exception {
        String line = key + ":" + value + "\n";
        List<String> cmd;
        if (onPath("kcat")) {
            cmd = List.of("kcat", "-b", endpoints.kafka(), "-t", topic, "-K:", "-P");
        } else {
            cmd = List.of(ChildProcess.javaBinary(), "-Dlogback.configurationFile=mav-local-logback.xml", "-cp",
                    layout.childClasspath(), "org.apache.kafka.tools.ConsoleProducer", "--bootstrap-server",
                    endpoints.kafka(), "--topic", topic, "--property", "parse.key=true", "--property",
                    "key.separator=:");
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try (OutputStream in = p.getOutputStream()) {
            in.write(line.getBytes(StandardCharsets.UTF_8));
        }
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd.get(0) + " did not finish");
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), cmd.get(0) + " failed: " + output);
    }

    private static JsonNode ffprobe(Path mp4) throws Exception {
        Process p = new ProcessBuilder("ffprobe", "-v", "error", "-show_streams", "-count_frames", "-of", "json",
                mp4.toString()).redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "ffprobe failed on " + mp4 + ": "
                + new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
        return JSON.readTree(out);
    }

    private static boolean onPath(String exe) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, exe))) {
                return true;
            }
        }
        return false;
    }
}
