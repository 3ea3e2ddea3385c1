package mav.gateway;

import static io.restassured.RestAssured.given;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.not;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.quarkus.test.common.QuarkusTestResource;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StageName;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The API against a real broker and S3 server: the stages' side is played by {@link StagePlayer} through the same
 * topics and objects the stages use, so each test is a contract test of the gateway.
 */
@QuarkusTest
@QuarkusTestResource(KafkaAndS3.class)
class VideosApiTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static StagePlayer stages;

    @TestHTTPResource("/")
    URL base;
    @Inject
    JobIndex index;
    @Inject
    GatewayConfig config;

    @BeforeAll
    static void player() {
        stages = new StagePlayer();
    }

    @AfterAll
    static void closePlayer() {
        stages.close();
    }

    static Response submit(String key, String body) {
        return given().auth().oauth2(key).contentType("application/json").body(body).post("/v1/videos");
    }

    static String submitted(String key, String prompt) {
        return submit(key, "{\"prompt\": \"" + prompt + "\", \"seed\": 7, \"steps\": {\"decoder\": 2}}")
                .then().statusCode(202).extract().path("id");
    }

    static Map<String, Object> job(String key, String id) {
        return given().auth().oauth2(key).get("/v1/videos/" + id).then().statusCode(200).extract().as(Map.class);
    }

    @Test
    void aValidPromptIsAcceptedQueuedAndPublishedKeyedByItsId() {
        Response r = submit("alice-key", "{\"prompt\": \"a red fox running\", \"seed\": 42, \"fps\": 8,"
                + " \"guidance_scale\": 5, \"steps\": {\"prior\": 3}, \"negative_prompt\": \"blurry\"}");
        r.then().statusCode(202).body("status", equalTo("queued")).body("object", equalTo("video"))
                .body("progress", equalTo(0)).body("created_at", notNullValue()).body("prompt", equalTo("a red fox running"));
        String id = r.path("id");
        assertTrue(id.matches("video_[0-9a-f]{24}"), id);
        assertEquals("/v1/videos/" + id, URI.create(r.header("Location")).getPath());
        ConsumerRecord<String, String> prompt = recordsOf("mav.prompts").stream().filter(c -> id.equals(c.key()))
                .findFirst().orElseThrow(() -> new AssertionError("no record keyed " + id + " in mav.prompts"));
        assertEquals(new PromptRequest(id, "a red fox running", "blurry", 42L, 8, 5.0, Map.of("prior", 3)),
                EventCodec.fromJson(prompt.value(), PromptRequest.class));
        given().auth().oauth2("alice-key").get("/v1/videos/" + id).then().statusCode(200)
                .body("status", equalTo("queued")).body("stages[0].state", equalTo("pending"));
    }

    @Test
    void aBadFieldIsA400ProblemNamingTheFieldAndNothingIsPublished() {
        Map<String, String> badBodies = Map.of(
                "fps", "{\"id\": \"bad-1\", \"prompt\": \"p\", \"fps\": 99}",
                "guidance_scale", "{\"id\": \"bad-2\", \"prompt\": \"p\", \"guidance_scale\": 50}",
                "prompt", "{\"id\": \"bad-3\", \"prompt\": \"  \"}",
                "steps.srLow", "{\"id\": \"bad-4\", \"prompt\": \"p\", \"steps\": {\"srLow\": 0}}",
                "colour", "{\"id\": \"bad-5\", \"prompt\": \"p\", \"colour\": \"red\"}",
                "seed", "{\"id\": \"bad-6\", \"prompt\": \"p\", \"seed\": \"many\"}",
                "id", "{\"id\": \"bad id!\", \"prompt\": \"p\"}",
                "callback_url", "{\"id\": \"bad-8\", \"prompt\": \"p\", \"callback_url\": \"ftp://example.org/\"}");
        badBodies.forEach((field, body) -> submit("alice-key", body).then().statusCode(400)
                .contentType("application/problem+json").body("status", equalTo(400)).body("field", equalTo(field))
                .body("detail", notNullValue()));
        submit("alice-key", "not json").then().statusCode(400).contentType("application/problem+json")
                .body("detail", containsString("not JSON"));
        submit("alice-key", "{\"prompt\": \"" + "x".repeat(20_000) + "\"}").then().statusCode(413);
        // a valid job afterwards reaches the topic, and none of the bad ones is before it
        String marker = submitted("alice-key", "after the bad ones");
        await().atMost(WAIT).until(() -> recordsOf("mav.prompts").stream().anyMatch(c -> marker.equals(c.key())));
        assertFalse(recordsOf("mav.prompts").stream().anyMatch(c -> c.key().startsWith("bad")));
    }

    @Test
    void aClientIdThatExistsIsA409AndNeverASecondJob() {
        submit("alice-key", "{\"id\": \"client-job-1\", \"prompt\": \"once\"}").then().statusCode(202)
                .body("id", equalTo("client-job-1"));
        submit("alice-key", "{\"id\": \"client-job-1\", \"prompt\": \"twice\"}").then().statusCode(409)
                .contentType("application/problem+json").body("field", equalTo("id"));
        // another key cannot take it either: job ids are global (they key the topics and objects)
        submit("dave-key", "{\"id\": \"client-job-1\", \"prompt\": \"mine\"}").then().statusCode(409);
        assertEquals(1, recordsOf("mav.prompts").stream().filter(c -> "client-job-1".equals(c.key())).count());
    }

    @Test
    void aMissingOrUnknownKeyIs401AndAnUnknownJobIs404() {
        given().get("/v1/videos").then().statusCode(401).header("WWW-Authenticate", containsString("Bearer"))
                .contentType("application/problem+json");
        given().auth().oauth2("not-a-key").get("/v1/videos").then().statusCode(401);
        given().auth().oauth2("alice-key").get("/v1/videos/no-such-job").then().statusCode(404)
                .contentType("application/problem+json").body("job_id", equalTo("no-such-job"));
        given().auth().oauth2("alice-key").get("/v1/videos/no-such-job/content").then().statusCode(404);
        given().auth().oauth2("alice-key").delete("/v1/videos/no-such-job").then().statusCode(404);
        given().auth().oauth2("alice-key").get("/v1/videos?limit=0").then().statusCode(400)
                .body("field", equalTo("limit"));
        given().auth().oauth2("alice-key").get("/v1/videos/x/content?variant=gif").then().statusCode(400)
                .body("field", equalTo("variant"));
    }

    @Test
    void aJobFollowsTheStagesToCompletionServesItsVideoAndIsDeleted() throws Exception {
        String id = submitted("bob-key", "a paper boat on a pond");
        stages.started(id, StageName.PRIOR);
        stages.progress(id, StageName.PRIOR, 1, 4);
        await().atMost(WAIT).until(() -> "in_progress".equals(job("bob-key", id).get("status")));
        assertEquals(5, job("bob-key", id).get("progress"));
        given().auth().oauth2("bob-key").get("/v1/videos/" + id + "/content").then().statusCode(409)
                .contentType("application/problem+json").body("detail", containsString("not ready"));

        stages.runUpTo(id, StageName.SR_HIGH);
        await().atMost(WAIT).until(() -> (int) job("bob-key", id).get("progress") == 80);
        PromptRequest request = new PromptRequest(id, "a paper boat on a pond", null, 7L, 8, null, Map.of("decoder", 2));
        stages.finish(id, request);
        await().atMost(WAIT).until(() -> "completed".equals(job("bob-key", id).get("status")));
        given().auth().oauth2("bob-key").get("/v1/videos/" + id).then().statusCode(200).body("progress", equalTo(100))
                .body("completed_at", notNullValue()).body("error", nullValue())
                .body("metadata.video.width", equalTo(768)).body("metadata.video.height", equalTo(768))
                .body("stages[4].state", equalTo("done")).body("stages[4].elapsed_ms", notNullValue());

        byte[] mp4 = Files.readAllBytes(StagePlayer.video());
        byte[] got = given().auth().oauth2("bob-key").get("/v1/videos/" + id + "/content?variant=video").then()
                .statusCode(200).contentType("video/mp4").header("Accept-Ranges", "bytes").extract().asByteArray();
        assertArrayEquals(mp4, got);
        byte[] part = given().auth().oauth2("bob-key").header("Range", "bytes=100-199")
                .get("/v1/videos/" + id + "/content").then().statusCode(206)
                .header("Content-Range", "bytes 100-199/" + mp4.length).extract().asByteArray();
        assertArrayEquals(java.util.Arrays.copyOfRange(mp4, 100, 200), part);
        given().auth().oauth2("bob-key").get("/v1/videos/" + id + "/content?variant=thumbnail").then()
                .statusCode(200).contentType("image/png");
        String location = given().auth().oauth2("bob-key").redirects().follow(false)
                .get("/v1/videos/" + id + "/content?redirect=true").then().statusCode(307).extract()
                .header("Location");
        assertTrue(location.contains("X-Amz-Expires=900"), location);
        HttpResponse<byte[]> presigned = HttpClient.newHttpClient().send(
                HttpRequest.newBuilder(URI.create(location)).build(), HttpResponse.BodyHandlers.ofByteArray());
        assertEquals(200, presigned.statusCode());
        assertArrayEquals(mp4, presigned.body());

        given().auth().oauth2("bob-key").delete("/v1/videos/" + id).then().statusCode(200)
                .body("deleted", equalTo(true));
        given().auth().oauth2("bob-key").get("/v1/videos/" + id).then().statusCode(404);
        for (String key : List.of("videos/" + id + ".mp4", "videos/" + id + ".png", "videos/" + id + ".json",
                "jobs/" + id + "/sr-low/frames.npy")) {
            assertFalse(stages.store().exists(key), key + " should be deleted");
        }
        given().auth().oauth2("bob-key").get("/v1/videos").then().statusCode(200).body("data.id", not(hasItem(id)));
    }

    @Test
    void deletingAJobInFlightCancelsItOnEveryReplicaThenDeletesIt() {
        String id = submitted("ivan-key", "cancel me");
        stages.runUpTo(id, StageName.DECODER);
        stages.started(id, StageName.DECODER);
        stages.progress(id, StageName.DECODER, 1, 4);
        await().atMost(WAIT).until(() -> "running".equals(given().auth().oauth2("ivan-key").get("/v1/videos/" + id)
                .path("stages[1].state")));
        given().auth().oauth2("ivan-key").delete("/v1/videos/" + id).then().statusCode(200)
                .body("id", equalTo(id)).body("status", equalTo("cancelled")).body("cancelled_at", notNullValue())
                .body("completed_at", nullValue());
        // what the stages check, and what every replica's view reads
        assertTrue(stages.store().exists("jobs/" + id + "/cancelled"));
        assertTrue(recordsOf("mav.status").stream().anyMatch(r -> id.equals(r.key())
                && r.value().contains("\"state\":\"cancelled\"") && r.value().contains("\"stage\":\"gateway\"")));
        given().auth().oauth2("ivan-key").get("/v1/videos/" + id + "/content").then().statusCode(409)
                .body("detail", containsString("cancelled"));
        // the decoder stops at its next step boundary; a late step or done of a cancelled job changes nothing
        stages.progress(id, StageName.DECODER, 2, 4);
        stages.cancelled(id, StageName.DECODER);
        await().atMost(WAIT).until(() -> "cancelled".equals(given().auth().oauth2("ivan-key")
                .get("/v1/videos/" + id).path("stages[1].state")));
        given().auth().oauth2("ivan-key").get("/v1/videos/" + id).then().body("status", equalTo("cancelled"))
                .body("stages[2].state", equalTo("pending"));
        // a cancelled job is over: deleting it again removes it, the marker stays for a stage still holding it
        given().auth().oauth2("ivan-key").delete("/v1/videos/" + id).then().statusCode(200)
                .body("deleted", equalTo(true));
        given().auth().oauth2("ivan-key").get("/v1/videos/" + id).then().statusCode(404);
        assertTrue(stages.store().exists("jobs/" + id + "/cancelled"));
    }

    @Test
    void aJobsEndIsPostedToItsCallbackSignedWithItsKeyAndRetriedAfterAFailure() throws Exception {
        List<Map.Entry<Map<String, List<String>>, byte[]>> received = new CopyOnWriteArrayList<>();
        HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        receiver.createContext("/hook", ex -> {
            received.add(Map.entry(Map.copyOf(ex.getRequestHeaders()), ex.getRequestBody().readAllBytes()));
            // the first delivery meets a receiver that is down for a moment
            ex.sendResponseHeaders(received.size() == 1 ? 503 : 204, -1);
            ex.close();
        });
        receiver.start();
        try {
            String url = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
            String id = submit("judy-key", "{\"prompt\": \"call me back\", \"callback_url\": \"" + url + "\"}")
                    .then().statusCode(202).extract().path("id");
            stages.runUpTo(id, StageName.SR_HIGH);
            assertTrue(received.isEmpty(), "no callback before the job ends");
            stages.finish(id, PromptRequest.of(id, "call me back"));
            await().atMost(WAIT).until(() -> received.size() >= 2);
            Thread.sleep(1500); // a third delivery would come within this: a replayed done, a later status
            assertEquals(2, received.size(), "one failed try and one delivery");
            for (var r : received) {
                Map<String, List<String>> h = r.getKey();
                String timestamp = h.get("X-mav-timestamp").get(0);
                assertTrue(Math.abs(Long.parseLong(timestamp) - System.currentTimeMillis() / 1000) < 60, timestamp);
                Mac mac = Mac.getInstance("HmacSHA256");
                mac.init(new SecretKeySpec("judy-key".getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
                mac.update((timestamp + ".").getBytes(StandardCharsets.UTF_8));
                assertEquals("sha256=" + HexFormat.of().formatHex(mac.doFinal(r.getValue())),
                        h.get("X-mav-signature").get(0), "the signature verifies with the job's key");
                assertEquals(id + ".completed", h.get("X-mav-delivery").get(0));
                assertEquals("video.completed", h.get("X-mav-event").get(0));
            }
            Map<?, ?> job = EventCodec.mapper().readValue(received.get(1).getValue(), Map.class);
            assertEquals(id, job.get("id"));
            assertEquals("completed", job.get("status"));
            assertEquals(768, ((Map<?, ?>) ((Map<?, ?>) job.get("metadata")).get("video")).get("width"));
            // a cancelled job's callback says so, once
            String cancelled = submit("judy-key", "{\"prompt\": \"never mind\", \"callback_url\": \"" + url
                    + "\"}").then().statusCode(202).extract().path("id");
            stages.started(cancelled, StageName.PRIOR);
            given().auth().oauth2("judy-key").delete("/v1/videos/" + cancelled).then().statusCode(200);
            stages.cancelled(cancelled, StageName.PRIOR);
            await().atMost(WAIT).until(() -> received.size() >= 3);
            Thread.sleep(1500);
            assertEquals(3, received.size());
            assertEquals("video.cancelled", received.get(2).getKey().get("X-mav-event").get(0));
        } finally {
            receiver.stop(0);
        }
    }

    @Test
    void aCallbackNobodyCanSignOrThatIsNotHttpIsA400() {
        for (String url : List.of("ftp://example.org/hook", "http:///no-host", "https://user:pw@example.org/",
                "not a url")) {
            submit("judy-key", "{\"prompt\": \"p\", \"callback_url\": \"" + url + "\"}").then().statusCode(400)
                    .body("field", equalTo("callback_url"));
        }
    }

    @Test
    void aFailedStageShowsItsReasonAndTheJobHasNoContent() {
        String id = submitted("erin-key", "a failing job");
        stages.runUpTo(id, StageName.DECODER);
        stages.started(id, StageName.DECODER);
        stages.failed(id, StageName.DECODER, "missing object s3://mav/jobs/" + id + "/prior/image_embed.npy");
        await().atMost(WAIT).until(() -> "failed".equals(job("erin-key", id).get("status")));
        given().auth().oauth2("erin-key").get("/v1/videos/" + id).then().body("error.stage", equalTo("decoder"))
                .body("error.message", containsString("image_embed.npy")).body("stages[1].state", equalTo("failed"));
        given().auth().oauth2("erin-key").get("/v1/videos/" + id + "/content").then().statusCode(409)
                .body("detail", containsString("failed"));
        given().auth().oauth2("erin-key").delete("/v1/videos/" + id).then().statusCode(200);
    }

    @Test
    void aStatusFromAnAbortedStageTransactionIsNeverShown() {
        String id = submitted("erin-key", "an aborted done");
        stages.runUpTo(id, StageName.DECODER);
        stages.started(id, StageName.DECODER);
        stages.abortedDone(id, StageName.DECODER);
        // a done is final in the view: had the aborted one been applied, this would not show
        RecordMetadata after = stages.progress(id, StageName.DECODER, 1, 2);
        await().atMost(WAIT).until(() -> index.hasRead(after.partition(), after.offset()));
        given().auth().oauth2("erin-key").get("/v1/videos/" + id).then().body("status", equalTo("in_progress"))
                .body("stages[1].state", equalTo("running")).body("stages[1].step", equalTo(1));
        given().auth().oauth2("erin-key").delete("/v1/videos/" + id).then().statusCode(200);
    }

    @Test
    void aLateEventStreamClientGetsTheStateSoFarThenEachChangeUntilTheEnd() throws Exception {
        String id = submitted("carol-key", "a late listener");
        stages.runUpTo(id, StageName.DECODER);
        stages.started(id, StageName.DECODER);
        stages.progress(id, StageName.DECODER, 1, 2);
        await().atMost(WAIT).until(() -> (int) job("carol-key", id).get("progress") == 30);

        List<Map<String, Object>> events = new CopyOnWriteArrayList<>();
        HttpRequest req = HttpRequest.newBuilder(base.toURI().resolve("/v1/videos/" + id + "/events"))
                .header("Authorization", "Bearer carol-key").header("Accept", "text/event-stream").build();
        HttpResponse<java.io.InputStream> resp = HttpClient.newHttpClient().send(req,
                HttpResponse.BodyHandlers.ofInputStream());
        assertEquals(200, resp.statusCode());
        CompletableFuture<Void> reader = CompletableFuture.runAsync(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                    if (line.startsWith("data:")) {
                        events.add(EventCodec.mapper().readValue(line.substring(5).trim(), Map.class));
                    }
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        await().atMost(WAIT).until(() -> !events.isEmpty());
        Map<String, Object> first = events.get(0);
        assertEquals("in_progress", first.get("status"));
        assertEquals(30, first.get("progress"), "the first event is the state so far");

        stages.done(id, StageName.DECODER);
        stages.runUpTo(id, StageName.DECODER); // replays of earlier stages change nothing the client relies on
        for (StageName s : List.of(StageName.INTERPOLATION, StageName.SR_LOW)) {
            stages.started(id, s);
            stages.done(id, s);
        }
        stages.finish(id, new PromptRequest(id, "a late listener", null, 7L, 8, null, Map.of()));
        reader.get(20, TimeUnit.SECONDS); // the stream ends after the terminal state
        Map<String, Object> last = events.get(events.size() - 1);
        assertEquals("completed", last.get("status"));
        List<Integer> progress = events.stream().map(e -> (Integer) e.get("progress")).toList();
        List<Integer> sorted = new ArrayList<>(progress);
        sorted.sort(null);
        assertEquals(sorted, progress, "progress never goes back: " + progress);
        assertTrue(events.size() >= 4, "changes are streamed as they happen: " + progress);
    }

    @Test
    void aJobIsInvisibleToAnotherKeyEverywhere() {
        String id = submitted("heidi-key", "only heidi's");
        for (String path : List.of("/v1/videos/" + id, "/v1/videos/" + id + "/content",
                "/v1/videos/" + id + "/events")) {
            given().auth().oauth2("dave-key").get(path).then().statusCode(404);
        }
        given().auth().oauth2("dave-key").delete("/v1/videos/" + id).then().statusCode(404);
        given().auth().oauth2("dave-key").get("/v1/videos?limit=100").then().statusCode(200)
                .body("data.id", not(hasItem(id)));
        given().auth().oauth2("heidi-key").get("/v1/videos?limit=100").then().statusCode(200)
                .body("data.id", hasItem(id));
        given().auth().oauth2("heidi-key").get("/v1/videos/" + id).then().statusCode(200);
    }

    @Test
    void theListIsNewestFirstAndPages() {
        String a = submitted("grace-key", "first");
        String b = submitted("grace-key", "second");
        String c = submitted("grace-key", "third");
        given().auth().oauth2("grace-key").get("/v1/videos?limit=2").then().statusCode(200)
                .body("object", equalTo("list")).body("data.id", equalTo(List.of(c, b)))
                .body("has_more", equalTo(true)).body("last_id", equalTo(b));
        given().auth().oauth2("grace-key").get("/v1/videos?limit=2&after=" + b).then().statusCode(200)
                .body("data.id", equalTo(List.of(a))).body("has_more", equalTo(false));
    }

    @Test
    void submissionsBeyondTheInFlightCapAndTheRateAre429WithRetryAfter() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ids.add(submitted("frank-key", "job " + i));
        }
        submit("frank-key", "{\"prompt\": \"one too many in flight\"}").then().statusCode(429)
                .header("Retry-After", notNullValue()).body("detail", containsString("in flight"));
        for (String id : ids) {
            stages.finish(id, PromptRequest.of(id, "done"));
        }
        await().atMost(WAIT).until(() -> ids.stream().allMatch(id -> "completed".equals(job("frank-key", id)
                .get("status"))));
        // the burst is 4: three taken above, one left, then the per-minute rate applies
        submitted("frank-key", "the fourth of the burst");
        Response limited = submit("frank-key", "{\"prompt\": \"too fast\"}");
        limited.then().statusCode(429).contentType("application/problem+json")
                .body("detail", containsString("rate limit"));
        assertTrue(Integer.parseInt(limited.header("Retry-After")) >= 1);
        // the limit is per key: another key is not affected
        submitted("dave-key", "dave is not limited by frank");
    }

    @Test
    void stagesReportThroughputLatencyInFlightAndLag() {
        String id = submitted("dave-key", "for the stage panel");
        stages.runUpTo(id, StageName.SR_LOW);
        stages.started(id, StageName.SR_LOW);
        await().atMost(WAIT).until(() -> "running".equals(
                given().auth().oauth2("dave-key").get("/v1/videos/" + id).path("stages[3].state")));
        Response r = given().auth().oauth2("dave-key").get("/v1/stages");
        r.then().statusCode(200).body("stages.stage", equalTo(List.of("prior", "decoder", "interpolation",
                "sr-low", "sr-high")));
        List<Map<String, Object>> st = r.path("stages");
        assertTrue((int) st.get(0).get("completed") >= 1);
        assertTrue(((Number) st.get(0).get("throughput_per_min")).doubleValue() > 0);
        assertTrue(((Number) st.get(3).get("in_flight")).intValue() >= 1);
        // no stage consumes here, so every prompt published is lag of the prior's group
        assertTrue(((Number) st.get(0).get("lag")).intValue() >= 1, String.valueOf(st.get(0)));
        stages.failed(id, StageName.SR_LOW, "stopped by the test");
    }

    @Test
    void anotherReplicaOrARestartRebuildsTheSameViewFromTheStatusStream() throws Exception {
        String done = submitted("heidi-key", "finished before the restart");
        stages.runUpTo(done, StageName.SR_HIGH);
        stages.finish(done, PromptRequest.of(done, "finished before the restart"));
        String failed = submitted("heidi-key", "failed before the restart");
        stages.failed(failed, StageName.PRIOR, "prompt has 41 tokens, at most 30");
        await().atMost(WAIT).until(() -> "failed".equals(job("heidi-key", failed).get("status")));
        await().atMost(WAIT).until(() -> "completed".equals(job("heidi-key", done).get("status")));

        // a second index, as a new replica or this one after a restart builds it: nothing but the stream
        JobIndex replica = new JobIndex();
        replica.config = config;
        replica.bootstrap = ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class);
        replica.onStart(null);
        try {
            await().atMost(WAIT).until(replica::caughtUp);
            for (String id : List.of(done, failed)) {
                Job.JobView here = index.find(id).orElseThrow();
                Job.JobView there = replica.find(id).orElseThrow();
                assertEquals(here.status(), there.status(), id);
                assertEquals(here.owner(), there.owner(), id);
                assertEquals(here.request(), there.request(), id);
                assertEquals(here.stages(), there.stages(), id);
                assertEquals(here.createdAt(), there.createdAt(), id);
            }
            assertEquals(Caller.ownerOf("heidi-key"), replica.find(done).orElseThrow().owner());
        } finally {
            replica.onStop(null);
        }
    }

    @Test
    void healthMetricsOpenApiAndThePageAreServed() {
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/metrics").then().statusCode(200).body(containsString("mav_gateway_submissions_total"));
        given().get("/q/openapi").then().statusCode(200).body(containsString("/v1/videos/{id}/events"));
        given().get("/").then().statusCode(200).contentType(containsString("text/html"))
                .body(containsString("<video"));
    }

    /** Every record of a topic so far, read by a group-less consumer. */
    static List<ConsumerRecord<String, String>> recordsOf(String topic) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                ConfigProvider.getConfig().getValue("kafka.bootstrap.servers", String.class));
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(),
                new StringDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            Map<TopicPartition, Long> ends = c.endOffsets(parts);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (parts.stream().anyMatch(tp -> c.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }
}
