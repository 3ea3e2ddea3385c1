package mav.common.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import mav.common.tensor.NpyCodec;
import mav.common.tensor.Tensor;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The Java schedulers against reference values written by the PyTorch code
 * ({@code training/mav_training/schedulers.py}, fixtures in {@code fixtures/schedulers.json}).
 */
class SchedulerFixturesTest {
    private static final JsonNode FIXTURES = read();

    private static JsonNode read() {
        try (InputStream in = SchedulerFixturesTest.class.getResourceAsStream("/fixtures/schedulers.json")) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Tensor npy(String file) {
        try (InputStream in = SchedulerFixturesTest.class.getResourceAsStream("/fixtures/" + file)) {
            return NpyCodec.decode(in.readAllBytes());
        } catch (IOException e) {
            throw new IllegalStateException(file, e);
        }
    }

    @Test
    void alphasCumprodMatchTheReferenceForBothSchedules() {
        int total = FIXTURES.get("num_train_timesteps").asInt();
        FIXTURES.get("alphas_cumprod").fields().forEachRemaining(e -> {
            NoiseSchedule schedule = NoiseSchedule.of(e.getKey(), total);
            JsonNode values = e.getValue().get("values");
            assertEquals(total, values.size());
            for (int t = 0; t < total; t++) {
                assertEquals(values.get(t).asDouble(), schedule.alphaCumprod(t), 1e-12, e.getKey() + " t=" + t);
            }
        });
    }

    @Test
    void timestepsMatchTheReferenceForEveryStepCount() {
        NoiseSchedule schedule = NoiseSchedule.of("squaredcos_cap_v2", FIXTURES.get("num_train_timesteps").asInt());
        FIXTURES.get("timesteps").fields().forEachRemaining(e -> {
            DdimScheduler s = new DdimScheduler(schedule, PredictionType.EPSILON, false, 1, 0);
            s.setTimesteps(Integer.parseInt(e.getKey()));
            int[] expected = new int[e.getValue().size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = e.getValue().get(i).asInt();
            }
            assertArrayEquals(expected, s.timesteps(), "n=" + e.getKey());
        });
    }

    @TestFactory
    Stream<DynamicTest> everyStepMatchesThePyTorchReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : FIXTURES.get("cases")) {
            String name = c.get("name").asText() + " " + c.get("scheduler").asText() + " eta=" + c.path("eta").asDouble()
                    + " " + c.get("prediction_type").asText() + " clip=" + c.get("clip_sample").asBoolean()
                    + " t=" + c.get("t").asInt();
            tests.add(DynamicTest.dynamicTest(name, () -> check(c)));
        }
        assertTrue(tests.size() > 10, "fixtures hold " + tests.size() + " cases");
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> startingPartWayDownTheChainMatchesThePyTorchReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : FIXTURES.get("img2img")) {
            String name = c.get("name").asText() + " " + c.get("beta_schedule").asText() + " n="
                    + c.get("num_inference_steps").asInt() + " strength=" + c.get("strength").asDouble();
            tests.add(DynamicTest.dynamicTest(name, () -> checkImg2Img(c)));
        }
        assertTrue(tests.size() >= 5, "fixtures hold " + tests.size() + " img2img cases");
        return tests.stream();
    }

    private void checkImg2Img(JsonNode c) {
        DdimScheduler s = new DdimScheduler(NoiseSchedule.of(c.get("beta_schedule").asText(),
                FIXTURES.get("num_train_timesteps").asInt()), PredictionType.EPSILON, true, 1, 0);
        s.setTimesteps(c.get("num_inference_steps").asInt());
        int[] expected = new int[c.get("timesteps").size()];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = c.get("timesteps").get(i).asInt();
        }
        int[] timesteps = s.timestepsFrom(c.get("strength").asDouble());
        assertArrayEquals(expected, timesteps, "timesteps");
        JsonNode f = c.get("files");
        if (timesteps.length > 0) {
            float[] noisy = s.addNoise(npy(f.get("original_sample").asText()).data(), npy(f.get("noise").asText()).data(),
                    timesteps[0]);
            assertArrayEquals(npy(f.get("noisy_sample").asText()).data(), noisy, 2e-6f, "noisy_sample");
        }
    }

    @TestFactory
    Stream<DynamicTest> anSrSamplesHeldToItsConditionsRangeMatchesThePyTorchReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : FIXTURES.get("condition_range")) {
            String name = c.get("name").asText() + " factor=" + c.get("factor").asInt() + " radius="
                    + c.get("radius").asInt() + " margin=" + c.get("margin").asDouble() + " t=" + c.get("t").asInt();
            tests.add(DynamicTest.dynamicTest(name, () -> checkConditionRange(c)));
        }
        assertTrue(tests.size() >= 3, "fixtures hold " + tests.size() + " condition_range cases");
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> aGuidedStepHeldToItsConditionalEstimateMatchesThePyTorchReference() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonNode c : FIXTURES.get("guided_hold")) {
            String name = c.get("name").asText() + " radius=" + c.get("radius").asInt() + " margin="
                    + c.get("margin").asDouble() + " t=" + c.get("t").asInt();
            tests.add(DynamicTest.dynamicTest(name, () -> checkGuidedHold(c)));
        }
        assertTrue(tests.size() >= 2, "fixtures hold " + tests.size() + " guided_hold cases");
        return tests.stream();
    }

    private void checkGuidedHold(JsonNode c) {
        JsonNode f = c.get("files");
        GuidedHold hold = GuidedHold.of(new SchedulerConfig(FIXTURES.get("num_train_timesteps").asInt(),
                c.get("beta_schedule").asText(), c.get("prediction_type").asText(), c.get("clip_sample").asBoolean(),
                c.get("clip_sample_range").asDouble(), 50, 2.0, 0, null,
                new ConditionClip(c.get("radius").asInt(), c.get("margin").asDouble())));
        Tensor sample = npy(f.get("sample").asText());
        float[] conditional = npy(f.get("conditional").asText()).data();
        float[] batchedOutput = Arrays.copyOf(conditional, conditional.length * 2); // the unconditional half: unread
        float[] held = hold.apply(npy(f.get("guided").asText()).data(), batchedOutput, sample.data(), sample.shape(),
                c.get("t").asInt());
        assertArrayEquals(npy(f.get("held").asText()).data(), held, 2e-3f, "held");
    }

    private void checkConditionRange(JsonNode c) throws Exception {
        JsonNode f = c.get("files");
        ConditionRange range = ConditionRange.of(npy(f.get("low_res").asText()),
                new ConditionClip(c.get("radius").asInt(), c.get("margin").asDouble()));
        float[] x0 = npy(f.get("x0").asText()).data();
        range.clamp(x0);
        assertArrayEquals(npy(f.get("held_x0").asText()).data(), x0, 1e-5f, "held_x0");

        float[] output = npy(f.get("model_output").asText()).data();
        Denoiser held = range.around((x, t) -> output.clone(), NoiseSchedule.of(c.get("beta_schedule").asText(),
                FIXTURES.get("num_train_timesteps").asInt()), PredictionType.fromId(c.get("prediction_type").asText()));
        float[] out = held.predict(npy(f.get("sample").asText()).data(), c.get("t").asInt());
        assertArrayEquals(npy(f.get("held_output").asText()).data(), out, 2e-3f, "held_output");
    }

    @Test
    void aStrengthOutsideZeroToOneIsRefused() {
        DdimScheduler s = new DdimScheduler(NoiseSchedule.of("linear", 1000), PredictionType.EPSILON, false, 1, 0);
        s.setTimesteps(10);
        for (double bad : new double[] {0, -0.1, 1.01, Double.NaN}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.timestepsFrom(bad));
            assertTrue(e.getMessage().contains("strength"), e.getMessage());
        }
    }

    private void check(JsonNode c) {
        NoiseSchedule schedule = NoiseSchedule.of(c.get("beta_schedule").asText(),
                FIXTURES.get("num_train_timesteps").asInt());
        PredictionType type = PredictionType.fromId(c.get("prediction_type").asText());
        boolean clip = c.get("clip_sample").asBoolean();
        double range = c.get("clip_sample_range").asDouble();
        Scheduler s = "ddim".equals(c.get("scheduler").asText())
                ? new DdimScheduler(schedule, type, clip, range, c.get("eta").asDouble())
                : new DdpmScheduler(schedule, type, clip, range);
        s.setTimesteps(c.get("num_inference_steps").asInt());
        int t = c.get("t").asInt();
        assertEquals(t, s.timesteps()[c.get("step_index").asInt()]);
        JsonNode f = c.get("files");
        SchedulerOutput out = s.step(npy(f.get("model_output").asText()).data(), t, npy(f.get("sample").asText()).data(),
                npy(f.get("noise").asText()).data());
        assertArrayEquals(npy(f.get("prev_sample").asText()).data(), out.prevSample(), 2e-5f, "prev_sample");
        assertArrayEquals(npy(f.get("pred_x0").asText()).data(), out.predOriginalSample(), 2e-5f, "pred_x0");
    }
}
