package mav.local;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import mav.common.onnx.ModelManifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelPlanTest {
    private static final Path MODELS = Path.of("..", "models");

    @TempDir
    Path dir;

    private ModelManifest decoder(int steps, String interval) throws Exception {
        Path file = dir.resolve("manifest.json");
        Files.writeString(file, """
                {"name": "decoder", "version": "1", "inputs": [], "outputs": [],
                 "scheduler": {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2",
                   "prediction_type": "epsilon", "clip_sample": true, "clip_sample_range": 1.0,
                   "default_steps": %d, "default_guidance_scale": 2.0%s}}""".formatted(steps, interval));
        return ModelManifest.read(file);
    }

    @Test
    void theDecodersGuidedCallsAreItsStepsInsideTheGuidanceInterval() throws Exception {
        assertEquals(50, ModelPlan.guidedDecoderCalls(decoder(50, "")));
        // leading spacing: 980, 960, …, 200 are guided, 180 … 0 are not
        assertEquals(40, ModelPlan.guidedDecoderCalls(decoder(50, ", \"guidance_min_timestep\": 200")));
        assertEquals(0, ModelPlan.guidedDecoderCalls(decoder(25, ", \"guidance_min_timestep\": 1000")));
    }

    @Test
    void theShippedDecodersCallsAddUpToItsStepsWithTwoRowsWhenGuided() {
        ModelManifest shipped = ModelManifest.read(MODELS.resolve("decoder/1/manifest.json"));
        List<ModelPlan.Entry> decoder = ModelPlan.of(MODELS).stages().stream()
                .filter(e -> e.stage().equals("decoder")).toList();
        assertEquals(shipped.requireScheduler().defaultSteps(), decoder.stream().mapToInt(ModelPlan.Entry::calls).sum());
        assertEquals(ModelPlan.guidedDecoderCalls(shipped), decoder.get(0).calls());
        assertEquals(List.of(2L, 3L, 16L, 64L, 64L), shapeOfSample(decoder.get(0)));
    }

    private static List<Long> shapeOfSample(ModelPlan.Entry entry) {
        long[] shape = (long[]) entry.inputs().stream().filter(i -> i.get("name").equals("sample")).findFirst()
                .orElseThrow().get("shape");
        return Arrays.stream(shape).boxed().toList();
    }
}
