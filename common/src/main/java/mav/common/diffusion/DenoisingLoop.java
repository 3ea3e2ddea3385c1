package mav.common.diffusion;

/**
 * The sampling loop every stage runs: start from noise (or from a clean estimate noised part-way down the chain),
 * ask the denoiser at each timestep, let the scheduler step.
 */
public final class DenoisingLoop {

    /** Called after each step with (step, total), 1-based; used for progress events and the steps/s metric. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(int step, int total);
    }

    private DenoisingLoop() {
    }

    /** Samples from pure noise over all {@code steps} timesteps. */
    public static float[] run(Scheduler scheduler, int steps, float[] initialNoise, Denoiser denoiser,
            GaussianNoise stepNoise, StepListener listener) throws Exception {
        scheduler.setTimesteps(steps);
        return loop(scheduler, scheduler.timesteps(), initialNoise, denoiser, stepNoise, listener);
    }

    /**
     * Samples from {@code init}, a clean estimate of the result, noised with {@code noise} to the first of the
     * timesteps {@link Scheduler#timestepsFrom(double) strength} leaves, and denoised over those (SDEdit; diffusers'
     * img2img). Strength 1 runs every step from an almost pure-noise start; a strength that leaves no step returns a
     * copy of {@code init}.
     */
    public static float[] runFrom(Scheduler scheduler, int steps, double strength, float[] init, float[] noise,
            Denoiser denoiser, GaussianNoise stepNoise, StepListener listener) throws Exception {
        scheduler.setTimesteps(steps);
        int[] timesteps = scheduler.timestepsFrom(strength);
        if (timesteps.length == 0) {
            return init.clone();
        }
        return loop(scheduler, timesteps, scheduler.addNoise(init, noise, timesteps[0]), denoiser, stepNoise,
                listener);
    }

    private static float[] loop(Scheduler scheduler, int[] timesteps, float[] start, Denoiser denoiser,
            GaussianNoise stepNoise, StepListener listener) throws Exception {
        float[] sample = start;
        for (int i = 0; i < timesteps.length; i++) {
            float[] output = denoiser.predict(sample, timesteps[i]);
            float[] noise = scheduler.needsNoise() ? stepNoise.next(sample.length) : null;
            sample = scheduler.step(output, timesteps[i], sample, noise).prevSample();
            listener.onStep(i + 1, timesteps.length);
        }
        return sample;
    }
}
