package mav.local;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import mav.common.diffusion.DdimScheduler;
import mav.common.diffusion.Scheduler;
import mav.common.diffusion.SchedulerConfig;
import mav.common.onnx.ModelManifest;
import mav.common.onnx.ModelRepository;
import mav.common.onnx.TensorSpec;

/**
 * The model calls one default job makes in each stage, at the shapes the stage feeds them, read from the manifests:
 * what {@code ./mav bench --compare} times in PyTorch ({@code mav_training.time_models}) and in a bare ONNX Runtime
 * JVM ({@code training/tools/ort_check.sh plan}). Written as JSON: {@code {"stages": [{"stage", "model", "calls",
 * "timed", "inputs": [{"name", "dtype", "shape", "fill"}]}]}}.
 */
record ModelPlan(List<Entry> stages) {
    /** The prior stage's candidates, each guided: conditional and unconditional rows (TextToImageEmbedding). */
    static final int PRIOR_ROWS = 2 * 2;
    /** sr-high's default {@code sr-high.batch-frames}. */
    static final int SR_HIGH_BATCH_FRAMES = 4;
    /** The fps of the README's default job. */
    static final int FPS = 8;

    /**
     * One model of one stage: {@code calls} calls on inputs of these shapes, of which the bare runs time {@code timed}
     * (every call has the same shapes) and scale to {@code calls}.
     */
    record Entry(String stage, String model, int calls, int timed, List<Map<String, Object>> inputs) {
    }

    /** At most {@code maxTimed} calls timed per entry (0: all). */
    ModelPlan sampled(int maxTimed) {
        return new ModelPlan(stages.stream().map(e -> new Entry(e.stage, e.model, e.calls,
                maxTimed > 0 ? Math.min(maxTimed, e.calls) : e.calls, e.inputs)).toList());
    }

    static ModelPlan of(Path modelsDir) {
        ModelRepository repo = new ModelRepository(modelsDir);
        ModelManifest text = manifest(repo, "text_encoder");
        ModelManifest prior = manifest(repo, "prior");
        ModelManifest decoder = manifest(repo, "decoder");
        ModelManifest interp = manifest(repo, "interpolator");
        ModelManifest srLow = manifest(repo, "sr_low");
        ModelManifest srHigh = manifest(repo, "sr_high");
        int skip = interp.intParameter("frame_skip");
        int frames = (decoder.intParameter("frames") - 1) * skip + 1;
        List<Entry> e = new ArrayList<>();
        e.add(entry("prior", text, 1, 1, 1, skip));
        e.add(entry("prior", prior, prior.requireScheduler().defaultSteps(), PRIOR_ROWS, 1, skip));
        int guided = guidedDecoderCalls(decoder);
        e.add(entry("decoder", decoder, guided, 2, decoder.intParameter("frames"), skip));
        int unguided = decoder.requireScheduler().defaultSteps() - guided;
        if (unguided > 0) {
            e.add(entry("decoder", decoder, unguided, 1, decoder.intParameter("frames"), skip));
        }
        e.add(entry("interpolation", interp, interpolationCalls(interp), 1, frames, skip));
        e.add(entry("sr-low", srLow, srLow.requireScheduler().defaultSteps(), 1, frames, skip));
        int srSteps = srHigh.requireScheduler().defaultSteps();
        e.add(entry("sr-high", srHigh, frames / SR_HIGH_BATCH_FRAMES * srSteps, SR_HIGH_BATCH_FRAMES, 1, skip));
        if (frames % SR_HIGH_BATCH_FRAMES != 0) {
            e.add(entry("sr-high", srHigh, srSteps, frames % SR_HIGH_BATCH_FRAMES, 1, skip));
        }
        return new ModelPlan(e);
    }

    /**
     * The decoder's steps at its default scale inside its guidance interval, each a conditional and an unconditional
     * row (KeyframeDecoder); the rest run the conditional row alone.
     */
    static int guidedDecoderCalls(ModelManifest m) {
        SchedulerConfig sc = m.requireScheduler();
        Scheduler scheduler = DdimScheduler.of(sc);
        scheduler.setTimesteps(sc.defaultSteps());
        return (int) Arrays.stream(scheduler.timesteps()).filter(t -> sc.guidedAt(t, sc.defaultGuidanceScale()))
                .count();
    }

    /** The steps ↑F runs: the last ⌊steps·strength⌋ of its schedule (DenoisingLoop.runFrom), all at strength 1. */
    static int interpolationCalls(ModelManifest m) {
        int steps = m.requireScheduler().defaultSteps();
        double strength = m.doubleParameter("inbetween_strength", 1.0);
        return strength >= 1 ? steps : Math.min((int) (steps * strength), steps);
    }

    private static ModelManifest manifest(ModelRepository repo, String model) {
        return ModelManifest.read(repo.versionDir(model, "latest").resolve("manifest.json"));
    }

    /** The manifest's inputs with the batch axis {@code batch} and the other dynamic axes {@code frames}. */
    private static Entry entry(String stage, ModelManifest m, int calls, int batch, int frames, int skip) {
        List<Map<String, Object>> inputs = new ArrayList<>();
        for (TensorSpec s : m.inputs()) {
            long[] shape = new long[s.shape().size()];
            for (int i = 0; i < shape.length; i++) {
                long d = s.shape().get(i);
                shape[i] = d >= 0 ? d : i == 0 ? batch : frames;
            }
            Object fill = switch (s.name()) {
                case "timestep" -> 500;
                case "input_ids" -> 1;
                case "fps" -> "interpolator".equals(m.name()) ? FPS * skip : FPS;
                case "frame_skip" -> skip;
                default -> "normal";
            };
            Map<String, Object> in = new LinkedHashMap<>();
            in.put("name", s.name());
            in.put("dtype", s.dtype());
            in.put("shape", shape);
            in.put("fill", fill);
            inputs.add(in);
        }
        return new Entry(stage, m.name(), calls, calls, inputs);
    }

    void write(Path file) {
        try {
            Files.createDirectories(file.getParent());
            new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(file.toFile(), this);
        } catch (IOException e) {
            throw new StackException("cannot write the model plan " + file + ": " + e.getMessage(), e);
        }
    }
}
