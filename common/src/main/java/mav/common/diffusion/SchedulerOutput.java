package mav.common.diffusion;

/** One denoising step's result: x_{t−1} and the model's estimate of x_0. */
public record SchedulerOutput(float[] prevSample, float[] predOriginalSample) {
}
