package mav.common.diffusion;

/**
 * DDIM (Song et al., 2020): x_{t−1} = √ᾱ_{t−1}·x̂_0 + √(1 − ᾱ_{t−1} − σ²)·ε̂ + σ·z, with
 * σ = η·√((1 − ᾱ_{t−1})/(1 − ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t−1}). η = 0 is deterministic.
 */
public final class DdimScheduler extends DiffusionScheduler {
    private final double eta;

    public DdimScheduler(NoiseSchedule schedule, PredictionType predictionType, boolean clipSample, double clipRange,
            double eta) {
        super(schedule, predictionType, clipSample, clipRange);
        if (eta < 0 || eta > 1) {
            throw new IllegalArgumentException("eta must be in 0..1, got " + eta);
        }
        this.eta = eta;
    }

    public static DdimScheduler of(SchedulerConfig c) {
        return new DdimScheduler(NoiseSchedule.of(c), c.prediction(), c.clipSample(), c.clipSampleRange(), 0.0);
    }

    @Override
    public boolean needsNoise() {
        return eta > 0;
    }

    @Override
    public SchedulerOutput step(float[] modelOutput, int t, float[] sample, float[] noise) {
        requireTimesteps();
        double aT = schedule.alphaCumprod(t);
        double aPrev = schedule.alphaCumprod(t - stepRatio);
        checkLengths(modelOutput, sample);
        double sigma = eta * Math.sqrt((1 - aPrev) / (1 - aT)) * Math.sqrt(1 - aT / aPrev);
        double cx0 = Math.sqrt(aPrev);
        double ceps = Math.sqrt(Math.max(0.0, 1 - aPrev - sigma * sigma));
        float[] x0 = new float[sample.length];
        // holds ε̂ of each chunk until the chunk's x_{t-1} overwrites it: one array and one pass less per step
        float[] prev = new float[sample.length];
        ElementChunks.forEach(sample.length, (from, to) -> {
            predict(modelOutput, sample, aT, x0, prev, from, to);
            for (int i = from; i < to; i++) {
                double v = cx0 * x0[i] + ceps * prev[i];
                if (sigma > 0) {
                    v += sigma * noise[i];
                }
                prev[i] = (float) v;
            }
        });
        return new SchedulerOutput(prev, x0);
    }
}
