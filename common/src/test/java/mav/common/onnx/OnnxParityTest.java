package mav.common.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import mav.common.tensor.NpyCodec;
import mav.common.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * ONNX Runtime (Java) against PyTorch on the same inputs, for every model with a parity fixture
 * ({@code fixtures/parity/<model>/parity.json}, written by {@code training/mav_training/export.py}). Prints the
 * maximum absolute error per model.
 */
class OnnxParityTest {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final Path FIXTURES = Path.of("src/test/resources/fixtures/parity");

    @TestFactory
    Stream<DynamicTest> onnxRuntimeMatchesPyTorch() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(FIXTURES)) {
            for (Path dir : dirs.sorted().toList()) {
                tests.add(DynamicTest.dynamicTest(dir.getFileName().toString(), () -> check(dir)));
            }
        }
        assertFalse(tests.isEmpty(), "no parity fixtures under " + FIXTURES.toAbsolutePath());
        return tests.stream();
    }

    private void check(Path dir) throws Exception {
        JsonNode spec = new ObjectMapper().readTree(dir.resolve("parity.json").toFile());
        try (OnnxModel model = OnnxModel.load(REPO.resolve(spec.get("model_dir").asText()), OrtSettings.cpu())) {
            OnnxModel.Inputs inputs = new OnnxModel.Inputs();
            spec.get("inputs").fields().forEachRemaining(e -> {
                JsonNode in = e.getValue();
                long[] shape = longs(in.get("shape"));
                if ("int64".equals(in.get("dtype").asText())) {
                    inputs.putLong(e.getKey(), shape, longs(in.get("values")));
                } else {
                    inputs.put(e.getKey(), npy(dir.resolve(in.get("file").asText())).requireShape(e.getKey(), shape));
                }
            });
            Map<String, Tensor> out = model.run(inputs);
            double tolerance = spec.get("tolerance").asDouble();
            for (var e : (Iterable<Map.Entry<String, JsonNode>>) () -> spec.get("outputs").fields()) {
                Tensor expected = npy(dir.resolve(e.getValue().get("file").asText()));
                Tensor actual = out.get(e.getKey());
                assertArrayEquals(expected.shape(), actual.shape(), e.getKey());
                double max = 0;
                for (int i = 0; i < expected.data().length; i++) {
                    max = Math.max(max, Math.abs(expected.data()[i] - actual.data()[i]));
                }
                System.out.printf("parity %s.%s: max abs error %.3g (tolerance %.1g)%n", spec.get("model").asText(),
                        e.getKey(), max, tolerance);
                assertTrue(max <= tolerance, spec.get("model").asText() + "." + e.getKey() + " max abs error " + max);
            }
        }
    }

    @Test
    void aModelWhoseGraphBreaksItsManifestIsRefused() throws IOException {
        Path dir = Files.createTempDirectory("bad-model");
        Path src = REPO.resolve("testing/models/decoder/1");
        Files.copy(src.resolve("model.onnx"), dir.resolve("model.onnx"));
        String manifest = Files.readString(src.resolve("manifest.json")).replace("\"noise_pred\"", "\"eps\"");
        Files.writeString(dir.resolve("manifest.json"), manifest);
        var e = org.junit.jupiter.api.Assertions.assertThrows(ModelLoadException.class,
                () -> OnnxModel.load(dir, OrtSettings.cpu()));
        assertTrue(e.getMessage().contains("'eps' is not in the ONNX graph"), e.getMessage());
    }

    @Test
    void aGpuProviderThatCannotLoadFailsClearlyOrFallsBackWhenAllowed() {
        Path dir = REPO.resolve("testing/models/prior/1");
        var e = org.junit.jupiter.api.Assertions.assertThrows(ModelLoadException.class,
                () -> OnnxModel.load(dir, new OrtSettings(ExecutionProvider.CUDA, false, 1, false)));
        assertTrue(e.getMessage().contains("MAV_ORT_FALLBACK_CPU"), e.getMessage());
        try (OnnxModel m = OnnxModel.load(dir, new OrtSettings(ExecutionProvider.CUDA, true, 1, false))) {
            assertTrue(m.provider() == ExecutionProvider.CPU);
        }
    }

    private static Tensor npy(Path file) {
        try {
            return NpyCodec.decode(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new IllegalStateException(file.toString(), e);
        }
    }

    private static long[] longs(JsonNode array) {
        long[] out = new long[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asLong();
        }
        return out;
    }
}
