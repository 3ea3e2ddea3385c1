package mav.common.diffusion;

/**
 * DDPM ancestral sampling (Ho et al., 2020) over a strided timestep grid: the posterior q(x_{t'} | x_t, x̂_0)
 * between consecutive chosen timesteps t > t', with the "fixed small" variance.
 */
public final class DdpmScheduler extends DiffusionScheduler {

    public DdpmScheduler(NoiseSchedule schedule, PredictionType predictionType, boolean clipSample, double clipRange) {
        super(schedule, predictionType, clipSample, clipRange);
    }

    public static DdpmScheduler of(SchedulerConfig c) {
        return new DdpmScheduler(NoiseSchedule.of(c), c.prediction(), c.clipSample(), c.clipSampleRange());
    }

    @Override
    public boolean needsNoise() {
        return true;
    }

    @Override
    public SchedulerOutput step(float[] modelOutput, int t, float[] sample, float[] noise) {
        requireTimesteps();
        double aT = schedule.alphaCumprod(t);
        double aPrev = schedule.alphaCumprod(t - stepRatio);
        double alphaT = aT / aPrev;
        double betaT = 1 - alphaT;
        float[] x0 = new float[sample.length];
        float[] eps = new float[sample.length];
        predict(modelOutput, sample, aT, x0, eps);
        double cx0 = Math.sqrt(aPrev) * betaT / (1 - aT);
        double cxt = Math.sqrt(alphaT) * (1 - aPrev) / (1 - aT);
        double std = Math.sqrt(Math.max((1 - aPrev) / (1 - aT) * betaT, 1e-20));
        float[] prev = new float[sample.length];
        for (int i = 0; i < prev.length; i++) {
            double v = cx0 * x0[i] + cxt * sample[i];
            if (t > 0) {
                v += std * noise[i];
            }
            prev[i] = (float) v;
        }
        return new SchedulerOutput(prev, x0);
    }
}
