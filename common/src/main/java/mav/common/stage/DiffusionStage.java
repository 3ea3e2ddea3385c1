package mav.common.stage;

import mav.common.diffusion.ConditionRange;
import mav.common.diffusion.DdimScheduler;
import mav.common.diffusion.DenoisingLoop;
import mav.common.diffusion.Denoiser;
import mav.common.diffusion.GaussianNoise;
import mav.common.diffusion.NoiseSchedule;
import mav.common.diffusion.SchedulerConfig;
import mav.common.event.PromptRequest;
import mav.common.onnx.OnnxModel;
import mav.common.onnx.StageModels;
import mav.common.tensor.Tensor;

/**
 * A stage whose models are diffusion denoisers: it owns its loaded models and samples with the scheduler each
 * model's manifest names, the step count the request asks for (or the manifest's default), and noise drawn from
 * the job's seed on a stream named after the stage. Each sampling loop joins its model's batch of jobs in flight
 * for its duration ({@link mav.common.onnx.StepBatcher}; nothing without {@code mav.max-batch}), and leaves it however
 * it ends, a cancelled job's exception included.
 */
public abstract class DiffusionStage implements PipelineStage {
    protected final StageModels models = new StageModels();

    @Override
    public String modelVersion() {
        return models.versionTag();
    }

    /** Initial noise of {@code shape} for this job: the same seed always gives the same noise. */
    protected float[] initialNoise(PromptRequest request, long... shape) {
        return noise(request).next(Math.toIntExact(Tensor.elementCount(shape)));
    }

    /** The job's initial-noise stream in this stage, for stages that shape their noise themselves. */
    protected GaussianNoise noise(PromptRequest request) {
        return new GaussianNoise(request.seed(), name().id());
    }

    /** Samples with DDIM, counting the time as inference and reporting each step as progress. */
    protected float[] denoise(OnnxModel model, PromptRequest request, float[] initialNoise, Denoiser denoiser,
            StageContext context) throws Exception {
        return denoise(model, request, initialNoise, denoiser, context, context::progress);
    }

    /** As {@link #denoise(OnnxModel, PromptRequest, float[], Denoiser, StageContext)}, with its own progress. */
    protected float[] denoise(OnnxModel model, PromptRequest request, float[] initialNoise, Denoiser denoiser,
            StageContext context, DenoisingLoop.StepListener progress) throws Exception {
        int steps = steps(model, request);
        context.recordSteps(steps);
        return context.infer(() -> {
            try (var batch = model.joinBatch()) {
                return DenoisingLoop.run(DdimScheduler.of(model.manifest().requireScheduler()), steps, initialNoise,
                        denoiser, stepNoise(request), progress);
            }
        });
    }

    /**
     * As {@link #denoise(OnnxModel, PromptRequest, float[], Denoiser, StageContext)}, but from {@code init}, a clean
     * estimate, noised with {@code noise} part-way down the chain: only the last ⌊steps·strength⌋ of the job's steps
     * run ({@link DenoisingLoop#runFrom}).
     */
    protected float[] denoiseFrom(OnnxModel model, PromptRequest request, double strength, float[] init,
            float[] noise, Denoiser denoiser, StageContext context) throws Exception {
        int steps = steps(model, request);
        context.recordSteps(steps);
        return context.infer(() -> {
            try (var batch = model.joinBatch()) {
                return DenoisingLoop.runFrom(DdimScheduler.of(model.manifest().requireScheduler()), steps, strength,
                        init, noise, denoiser, stepNoise(request), context::progress);
            }
        });
    }

    /**
     * {@code denoiser} with its x̂0 held to {@code condition}'s local colour lines when {@code model}'s manifest asks for
     * it ({@code clip_sample_to_condition}, {@link ConditionRange}), else {@code denoiser} itself.
     */
    protected static Denoiser heldToCondition(OnnxModel model, Tensor condition, Denoiser denoiser) {
        SchedulerConfig sc = model.manifest().requireScheduler();
        if (sc.clipSampleToCondition() == null) {
            return denoiser;
        }
        return ConditionRange.of(condition, sc.clipSampleToCondition()).around(denoiser, NoiseSchedule.of(sc),
                sc.prediction());
    }

    private GaussianNoise stepNoise(PromptRequest request) {
        return new GaussianNoise(request.seed(), name().id() + "/steps");
    }

    /** The step count of this job in this stage. */
    protected int steps(OnnxModel model, PromptRequest request) {
        SchedulerConfig sc = model.manifest().requireScheduler();
        return request.stepsFor(name(), sc.defaultSteps());
    }
}
