package mav.common.diffusion;

/**
 * A reverse-diffusion sampler in the shape of diffusers' schedulers: {@link #setTimesteps(int)} once, then
 * {@link #step} for each timestep in {@link #timesteps()} order.
 */
public interface Scheduler {

    /** Chooses n timesteps spread evenly over the training schedule ("leading" spacing, offset 0). */
    void setTimesteps(int n);

    /** The timesteps chosen by {@link #setTimesteps(int)}, from noisiest to cleanest. */
    int[] timesteps();

    /**
     * @param modelOutput the denoiser's output at {@code t}
     * @param noise       fresh Gaussian noise of the sample's size; ignored by deterministic samplers, may be null
     *                    when {@link #needsNoise()} is false
     */
    SchedulerOutput step(float[] modelOutput, int t, float[] sample, float[] noise);

    /** Whether {@link #step} draws on fresh noise (DDPM, DDIM with eta > 0). */
    boolean needsNoise();

    /**
     * The timesteps a sample that starts part-way down the chain runs (diffusers' img2img, SDEdit): the last
     * ⌊n·strength⌋ of the n set by {@link #setTimesteps(int)}; strength 1 gives all of them, a strength under 1/n none.
     *
     * @param strength in (0, 1]: how much of the chain is run, i.e. how far the start is noised
     */
    int[] timestepsFrom(double strength);

    /** The forward process q(x_t | x_0): √ᾱ_t·x_0 + √(1 − ᾱ_t)·ε, a clean sample noised to timestep t. */
    float[] addNoise(float[] originalSample, float[] noise, int t);
}
