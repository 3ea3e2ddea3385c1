package mav.common.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

class PromptRequestTest {

    static Stream<Arguments> badEvents() {
        return Stream.of(
                Arguments.of("{not json", "malformed PromptRequest JSON"),
                Arguments.of("", "empty event"),
                Arguments.of("null", "JSON null"),
                Arguments.of("{\"jobId\":\"j1\"}", "prompt is missing"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"   \"}", "prompt is missing or empty"),
                Arguments.of("{\"prompt\":\"a red circle\"}", "jobId must match"),
                Arguments.of("{\"jobId\":\"../etc\",\"prompt\":\"a red circle\"}", "jobId must match"),
                Arguments.of("{\"jobId\":\".\",\"prompt\":\"a red circle\"}", "jobId must match"),
                Arguments.of("{\"jobId\":\"..\",\"prompt\":\"a red circle\"}", "jobId must match"),
                Arguments.of("{\"jobId\":\".hidden\",\"prompt\":\"a red circle\"}", "jobId must match"),
                Arguments.of("{\"jobId\":\"a/b\",\"prompt\":\"a red circle\"}", "jobId must match"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"" + "a".repeat(301) + "\"}", "301 characters"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"fps\":0}", "fps must be in 1..30, got 0"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"fps\":31}", "got 31"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"seed\":-1}", "seed must be >= 0"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"guidanceScale\":0.5}", "guidanceScale must be in 1..20"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"steps\":{\"decoder\":0}}", "steps.decoder must be in 1..1000"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"steps\":{\"upscaler\":5}}", "unknown stage 'upscaler'"),
                Arguments.of("{\"jobId\":\"j1\",\"prompt\":\"x\",\"fps\":\"fast\"}", "malformed PromptRequest JSON"));
    }

    @ParameterizedTest
    @MethodSource("badEvents")
    void everyBadEventIsRefusedWithAReasonNamingTheField(String json, String reason) {
        var e = assertThrows(InvalidEventException.class,
                () -> EventCodec.fromJson(json, PromptRequest.class).validate());
        assertTrue(e.getMessage().contains(reason), () -> "'" + e.getMessage() + "' should contain '" + reason + "'");
    }

    @Test
    void defaultsAreFilledOnceAndTheSeedFollowsTheJobId() {
        PromptRequest r = EventCodec.fromJson("{\"jobId\":\"job-7\",\"prompt\":\"a red circle\",\"unknownField\":1}",
                PromptRequest.class).validate().withDefaults();
        assertEquals(8, r.fps());
        assertNull(r.guidanceScale());
        assertEquals(2.5, r.guidanceScaleOr(2.5));
        assertEquals(4.0, new PromptRequest("job-7", "x", null, null, null, 4.0, Map.of()).guidanceScaleOr(2.5));
        assertEquals(r.seed(), PromptRequest.of("job-7", "other prompt").withDefaults().seed());
        assertTrue(r.seed() >= 0);
        assertEquals(r, r.withDefaults());
        assertEquals(25, r.stepsFor(StageName.DECODER, 25));
    }

    @Test
    void aStageEventRoundTripsThroughJsonWithItsTimingsAndSamplingSettings() throws Exception {
        PromptRequest r = new PromptRequest("j1", "a blue fish swimming left", null, 42L, 12, null, Map.of("srHigh", 3));
        StageEvent e = StageEvent.start(r)
                .next(StageName.PRIOR, Map.of("image_embed", "jobs/j1/prior/image_embed.npy"), "prior/1",
                        new StageTiming(1, 2, 3, 6), new SamplingSettings(25, 4.0))
                .next(StageName.SR_LOW, Map.of("frames_256", "jobs/j1/sr-low/frames.npy"), "sr_low/1",
                        new StageTiming(4, 5, 6, 15), new SamplingSettings(10, null));
        String json = EventCodec.toJson(e);
        assertTrue(json.contains("\"sr-low\""), json);
        assertTrue(json.contains("\"sampling\":{\"prior\":{\"steps\":25,\"guidanceScale\":4.0},"
                + "\"sr-low\":{\"steps\":10}}"), json);
        StageEvent back = EventCodec.fromJson(json, StageEvent.class);
        assertEquals(e, back);
        assertEquals(4.0, back.sampling().get(StageName.PRIOR).guidanceScale());
        // an event written before stages recorded their sampling still reads, with none recorded
        ObjectNode older = (ObjectNode) new ObjectMapper().readTree(json);
        older.remove("sampling");
        assertEquals(Map.of(), EventCodec.fromJson(older.toString(), StageEvent.class).sampling());
        assertEquals(3, back.request().stepsFor(StageName.SR_HIGH, 20));
        assertEquals("jobs/j1/prior/image_embed.npy", back.artifact("image_embed"));
        var missing = assertThrows(InvalidEventException.class, () -> back.artifact("keyframes"));
        assertTrue(missing.getMessage().contains("job j1"), missing.getMessage());
    }

    static Stream<Arguments> keysOutsideTheJob() {
        return Stream.of(
                Arguments.of("jobs/t0/prior/image_embed.npy"),
                Arguments.of("jobs/j1/../t0/prior/image_embed.npy"),
                Arguments.of("jobs/j1/prior/../../t0/x.npy"),
                Arguments.of("jobs/j1//x.npy"),
                Arguments.of("jobs/j1/prior/"),
                Arguments.of("videos/j1.mp4"),
                Arguments.of("/jobs/j1/prior/image_embed.npy"),
                Arguments.of("jobs/j10/prior/image_embed.npy"));
    }

    @ParameterizedTest
    @MethodSource("keysOutsideTheJob")
    void anArtifactOutsideItsJobsPrefixIsRefusedBeforeAnyFetch(String key) {
        StageEvent e = new StageEvent(PromptRequest.of("j1", "x"), StageName.PRIOR, Map.of("image_embed", key),
                Map.of(), Map.of(), Map.of());
        var ex = assertThrows(InvalidEventException.class, e::requireArtifactsOfItsJob);
        assertTrue(ex.getMessage().contains("not under jobs/j1/"), ex.getMessage());
    }

    @Test
    void anArtifactUnderItsJobPasses() {
        new StageEvent(PromptRequest.of("j1", "x"), StageName.DECODER, Map.of("image_embed",
                "jobs/j1/prior/image_embed.npy", "keyframes", "jobs/j1/decoder/keyframes.npy"), Map.of(), Map.of(),
                Map.of()).requireArtifactsOfItsJob();
    }
}
