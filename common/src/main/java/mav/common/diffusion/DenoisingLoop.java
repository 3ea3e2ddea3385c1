package mav.common.diffusion;

/**
 * The sampling loop every stage runs: start from noise, ask the denoiser at each timestep, let the scheduler step.
 */
public final class DenoisingLoop {

    /** Called after each step with (step, total), 1-based; used for progress events and the steps/s metric. */
    @FunctionalInterface
    public interface StepListener {
        void onStep(int step, int total);
    }

    private DenoisingLoop() {
    }

    public static float[] run(Scheduler scheduler, int steps, float[] initialNoise, Denoiser denoiser,
            GaussianNoise stepNoise, StepListener listener) throws Exception {
        scheduler.setTimesteps(steps);
        int[] timesteps = scheduler.timesteps();
        float[] sample = initialNoise;
        for (int i = 0; i < timesteps.length; i++) {
            float[] output = denoiser.predict(sample, timesteps[i]);
            float[] noise = scheduler.needsNoise() ? stepNoise.next(sample.length) : null;
            sample = scheduler.step(output, timesteps[i], sample, noise).prevSample();
            listener.onStep(i + 1, timesteps.length);
        }
        return sample;
    }
}
