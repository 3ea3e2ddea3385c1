package mav.common.diffusion;

/** One model evaluation inside a sampling loop: the (guided) model output for {@code sample} at timestep t. */
@FunctionalInterface
public interface Denoiser {
    float[] predict(float[] sample, int t) throws Exception;
}
