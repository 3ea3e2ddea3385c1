package mav.common.diffusion;

import java.util.Arrays;

/**
 * What DDPM and DDIM share: timestep spacing, and recovering x_0 and ε from a model output, with x_0 clamped and ε
 * recomputed from the clamped x_0 when the model's manifest asks for clipping.
 */
abstract class DiffusionScheduler implements Scheduler {
    protected final NoiseSchedule schedule;
    private final PredictionType predictionType;
    private final boolean clipSample;
    private final double clipRange;
    private int[] timesteps;
    protected int stepRatio;

    DiffusionScheduler(NoiseSchedule schedule, PredictionType predictionType, boolean clipSample, double clipRange) {
        this.schedule = schedule;
        this.predictionType = predictionType;
        this.clipSample = clipSample;
        this.clipRange = clipRange;
    }

    @Override
    public void setTimesteps(int n) {
        int total = schedule.numTrainTimesteps();
        if (n < 1 || n > total) {
            throw new IllegalArgumentException("steps must be in 1.." + total + ", got " + n);
        }
        stepRatio = total / n;
        timesteps = new int[n];
        for (int i = 0; i < n; i++) {
            timesteps[i] = (n - 1 - i) * stepRatio;
        }
    }

    @Override
    public int[] timesteps() {
        requireTimesteps();
        return timesteps.clone();
    }

    @Override
    public int[] timestepsFrom(double strength) {
        requireTimesteps();
        if (!(strength > 0 && strength <= 1)) {
            throw new IllegalArgumentException("strength must be in (0, 1], got " + strength);
        }
        int n = timesteps.length;
        return Arrays.copyOfRange(timesteps, n - Math.min((int) (n * strength), n), n);
    }

    @Override
    public float[] addNoise(float[] originalSample, float[] noise, int t) {
        if (noise.length != originalSample.length) {
            throw new IllegalArgumentException("noise has " + noise.length + " values, sample "
                    + originalSample.length);
        }
        double a = schedule.alphaCumprod(t);
        double sa = Math.sqrt(a);
        double sb = Math.sqrt(1.0 - a);
        float[] out = new float[originalSample.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) (sa * originalSample[i] + sb * noise[i]);
        }
        return out;
    }

    protected void requireTimesteps() {
        if (timesteps == null) {
            throw new IllegalStateException("call setTimesteps(n) before step()");
        }
    }

    /** Fills x0 and eps from the model output at ᾱ_t. */
    protected void predict(float[] modelOutput, float[] sample, double alphaProdT, float[] x0, float[] eps) {
        checkLengths(modelOutput, sample);
        ElementChunks.forEach(sample.length, (from, to) -> predict(modelOutput, sample, alphaProdT, x0, eps, from, to));
    }

    protected static void checkLengths(float[] modelOutput, float[] sample) {
        if (modelOutput.length != sample.length) {
            throw new IllegalArgumentException("model output has " + modelOutput.length + " values, sample "
                    + sample.length);
        }
    }

    /** {@link #predict(float[], float[], double, float[], float[])} over [from, to): a step fuses it with its own. */
    protected void predict(float[] modelOutput, float[] sample, double alphaProdT, float[] x0, float[] eps, int from,
            int to) {
        double sa = Math.sqrt(alphaProdT);
        double sb = Math.sqrt(1.0 - alphaProdT);
        double invSa = 1.0 / sa;
        double invSb = 1.0 / sb;
        boolean epsilon = predictionType == PredictionType.EPSILON;
        for (int i = from; i < to; i++) {
            double x = sample[i];
            double m = modelOutput[i];
            double x0i;
            double epsi;
            if (epsilon) {
                epsi = m;
                x0i = (x - sb * m) * invSa;
            } else {
                x0i = m;
                epsi = (x - sa * m) * invSb;
            }
            if (clipSample) {
                double c = Math.max(-clipRange, Math.min(clipRange, x0i));
                if (c != x0i) {
                    x0i = c;
                    epsi = (x - sa * x0i) * invSb;
                }
            }
            x0[i] = (float) x0i;
            eps[i] = (float) epsi;
        }
    }
}
