package mav.common.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelManifestTest {
    @TempDir
    Path dir;

    private ModelManifest manifestWithGuidance(String scale) throws Exception {
        return manifestWithScheduler("\"default_guidance_scale\": " + scale);
    }

    private ModelManifest manifestWithScheduler(String guidance) throws Exception {
        Path file = dir.resolve("manifest.json");
        Files.writeString(file, """
                {"name": "decoder", "version": "1", "inputs": [], "outputs": [],
                 "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
                   "prediction_type": "epsilon", "clip_sample": true, "clip_sample_range": 1.0,
                   "default_steps": 50, %s}}""".formatted(guidance));
        return ModelManifest.read(file);
    }

    @Test
    void theSamplingDefaultsComeFromTheManifest() throws Exception {
        var scheduler = manifestWithGuidance("2.0").requireScheduler();
        assertEquals(2.0, scheduler.defaultGuidanceScale());
        assertEquals(50, scheduler.defaultSteps());
    }

    @Test
    void aDefaultGuidanceBelowOneIsRefusedNamingTheModel() throws Exception {
        var e = assertThrows(ModelLoadException.class, () -> manifestWithGuidance("0.5").requireScheduler());
        assertTrue(e.getMessage().contains("decoder") && e.getMessage().contains("default_guidance_scale"),
                e.getMessage());
    }

    @Test
    void withoutAnIntervalEveryStepIsGuided() throws Exception {
        var scheduler = manifestWithGuidance("2.0").requireScheduler();
        assertEquals(0, scheduler.guidanceMinTimestep());
        assertTrue(scheduler.guidedAt(0, 2.0) && scheduler.guidedAt(980, 2.0));
    }

    @Test
    void guidanceAppliesFromTheIntervalsLowerTimestepUpAndNeverAtScaleOne() throws Exception {
        var scheduler = manifestWithScheduler("\"default_guidance_scale\": 2.0, \"guidance_min_timestep\": 300")
                .requireScheduler();
        assertFalse(scheduler.guidedAt(280, 2.0));
        assertTrue(scheduler.guidedAt(300, 2.0));
        assertTrue(scheduler.guidedAt(980, 3.5));
        assertFalse(scheduler.guidedAt(980, 1.0));
    }

    @Test
    void aNegativeIntervalIsRefusedNamingTheModel() throws Exception {
        var e = assertThrows(ModelLoadException.class, () -> manifestWithScheduler(
                "\"default_guidance_scale\": 2.0, \"guidance_min_timestep\": -1").requireScheduler());
        assertTrue(e.getMessage().contains("decoder") && e.getMessage().contains("guidance_min_timestep"),
                e.getMessage());
    }

    @Test
    void anSrClipToTheConditionIsReadAndABrokenOneRefusedNamingTheField() throws Exception {
        var scheduler = manifestWithScheduler("\"default_guidance_scale\": 1.0, "
                + "\"clip_sample_to_condition\": {\"radius\": 1, \"margin\": 0.25}").requireScheduler();
        assertEquals(1, scheduler.clipSampleToCondition().radius());
        assertEquals(0.25, scheduler.clipSampleToCondition().margin());
        assertEquals(null, manifestWithGuidance("1.0").requireScheduler().clipSampleToCondition());
        var e = assertThrows(ModelLoadException.class, () -> manifestWithScheduler("\"default_guidance_scale\": 1.0, "
                + "\"clip_sample_to_condition\": {\"radius\": -1, \"margin\": 0}"));
        assertTrue(e.getMessage().contains("clip_sample_to_condition"), e.getMessage());
    }

    @Test
    void aDecodersGuidedHoldIsReadAndABrokenOneRefusedNamingTheField() throws Exception {
        var scheduler = manifestWithScheduler("\"default_guidance_scale\": 2.0, "
                + "\"hold_guided_to_conditional\": {\"radius\": 1, \"margin\": 0}").requireScheduler();
        assertEquals(1, scheduler.holdGuidedToConditional().radius());
        assertEquals(null, scheduler.clipSampleToCondition());
        assertEquals(null, manifestWithGuidance("2.0").requireScheduler().holdGuidedToConditional());
        var e = assertThrows(ModelLoadException.class, () -> manifestWithScheduler("\"default_guidance_scale\": 2.0, "
                + "\"hold_guided_to_conditional\": {\"radius\": 1, \"margin\": -0.5}"));
        assertTrue(e.getMessage().contains("hold_guided_to_conditional"), e.getMessage());
    }
}
