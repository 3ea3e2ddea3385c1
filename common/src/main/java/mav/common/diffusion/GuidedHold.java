package mav.common.diffusion;

import mav.common.tensor.Tensor;

/**
 * A manifest's {@code hold_guided_to_conditional}: a guided step's x̂0 held to the colour lines ({@link ConditionRange},
 * factor 1) of the conditional prediction's own x̂0, as the scheduler predicts it (clamped with {@code clip_sample}).
 * Guidance may steepen an edge between colours the conditional estimate has, but draws no rim past them, the rim SR
 * would magnify into a halo. Without the setting the guided prediction passes unchanged. The reference sampler does
 * the same (training/mav_training/schedulers.py, {@code held_to_conditional}).
 */
public final class GuidedHold {
    private final ConditionClip clip;
    private final DdimScheduler scheduler;
    private final NoiseSchedule schedule;
    private final PredictionType prediction;

    private GuidedHold(SchedulerConfig config) {
        clip = config.holdGuidedToConditional();
        scheduler = DdimScheduler.of(config);
        schedule = NoiseSchedule.of(config);
        prediction = config.prediction();
    }

    /** The hold {@code config} asks for; one that changes nothing when it asks for none. */
    public static GuidedHold of(SchedulerConfig config) {
        return new GuidedHold(config);
    }

    /**
     * {@code guided}, the guided prediction at x_t = {@code sample} of {@code shape} [B, C, ..., h, w] and timestep t,
     * held in place to the lines of the conditional prediction's x̂0, the first half of {@code batchedOutput} (the
     * guided step's model output, {@link ClassifierFreeGuidance}); read only when the manifest asks for the hold.
     */
    public float[] apply(float[] guided, float[] batchedOutput, float[] sample, long[] shape, int t) {
        if (clip == null) {
            return guided;
        }
        double a = schedule.alphaCumprod(t);
        float[] x0 = new float[sample.length];
        scheduler.predict(ClassifierFreeGuidance.conditional(batchedOutput), sample, a, x0, new float[sample.length]);
        ConditionRange.of(new Tensor(shape, x0), clip).holdPrediction(guided, sample, a, prediction);
        return guided;
    }
}
