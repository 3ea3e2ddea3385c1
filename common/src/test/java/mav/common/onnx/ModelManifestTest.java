package mav.common.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
        Path file = dir.resolve("manifest.json");
        Files.writeString(file, """
                {"name": "decoder", "version": "1", "inputs": [], "outputs": [],
                 "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
                   "prediction_type": "epsilon", "clip_sample": true, "clip_sample_range": 1.0,
                   "default_steps": 50, "default_guidance_scale": %s}}""".formatted(scale));
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
}
