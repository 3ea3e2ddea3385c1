package mav.common.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The warm-up call runs every model at the shapes its stage uses, before the service is ready. */
class OnnxWarmUpTest {
    private static final Path MODELS = Path.of("../testing/models").toAbsolutePath().normalize();
    private static final OrtSettings WARM = new OrtSettings(ExecutionProvider.CPU, false, 0, true);

    @ParameterizedTest
    @ValueSource(strings = {"text_encoder", "prior", "decoder", "interpolator", "sr_low", "sr_high"})
    void everyModelLoadsWithItsWarmUpCall(String name) {
        try (OnnxModel model = OnnxModel.load(MODELS.resolve(name).resolve("1"), WARM)) {
            assertEquals(name, model.manifest().name());
        }
    }

    @Test
    void warmUpShapesAreTheStagesWorkingShapes() {
        try (OnnxModel decoder = OnnxModel.load(MODELS.resolve("decoder/1"), OrtSettings.cpu());
                OnnxModel srLow = OnnxModel.load(MODELS.resolve("sr_low/1"), OrtSettings.cpu());
                OnnxModel text = OnnxModel.load(MODELS.resolve("text_encoder/1"), OrtSettings.cpu())) {
            OnnxModel.Inputs d = decoder.warmUpInputs();
            assertArrayEquals(new long[] {1, 3, 16, 64, 64}, d.shape("sample"), "16 keyframes");
            assertArrayEquals(new long[] {1}, d.shape("timestep"));
            assertArrayEquals(new long[] {1, 16}, d.shape("image_embed"), "E of the testing models");
            OnnxModel.Inputs s = srLow.warmUpInputs();
            assertArrayEquals(new long[] {1, 3, 76, 256, 256}, s.shape("sample"), "the whole 76-frame clip");
            assertArrayEquals(new long[] {1, 3, 76, 64, 64}, s.shape("low_res"));
            assertArrayEquals(new long[] {1, 32}, text.warmUpInputs().shape("input_ids"));
        }
    }
}
