package mav.common.diffusion;

/**
 * The forward process a model was trained with: ᾱ_t = ∏ (1 − β_s) for t in 0..T−1, computed in double precision
 * as the PyTorch reference does.
 */
public final class NoiseSchedule {
    private final double[] alphasCumprod;

    private NoiseSchedule(double[] betas) {
        alphasCumprod = new double[betas.length];
        double a = 1.0;
        for (int i = 0; i < betas.length; i++) {
            a *= 1.0 - betas[i];
            alphasCumprod[i] = a;
        }
    }

    /**
     * @param name {@code squaredcos_cap_v2} (the cosine schedule of Improved DDPM) or {@code linear}
     */
    public static NoiseSchedule of(String name, int numTrainTimesteps) {
        if (numTrainTimesteps < 2) {
            throw new IllegalArgumentException("num_train_timesteps must be >= 2, got " + numTrainTimesteps);
        }
        double[] betas = new double[numTrainTimesteps];
        switch (name) {
            case "squaredcos_cap_v2" -> {
                for (int i = 0; i < numTrainTimesteps; i++) {
                    double t1 = (double) i / numTrainTimesteps;
                    double t2 = (double) (i + 1) / numTrainTimesteps;
                    betas[i] = Math.min(1.0 - cosineAlphaBar(t2) / cosineAlphaBar(t1), 0.999);
                }
            }
            case "linear" -> {
                for (int i = 0; i < numTrainTimesteps; i++) {
                    betas[i] = 1e-4 + (0.02 - 1e-4) * i / (numTrainTimesteps - 1);
                }
            }
            default -> throw new IllegalArgumentException("unknown beta_schedule '" + name
                    + "' (squaredcos_cap_v2, linear)");
        }
        return new NoiseSchedule(betas);
    }

    public static NoiseSchedule of(SchedulerConfig config) {
        return of(config.betaSchedule(), config.numTrainTimesteps());
    }

    private static double cosineAlphaBar(double t) {
        double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
        return c * c;
    }

    public int numTrainTimesteps() {
        return alphasCumprod.length;
    }

    /** ᾱ_t; 1.0 for t < 0, the clean end of the chain. */
    public double alphaCumprod(int t) {
        return t < 0 ? 1.0 : alphasCumprod[t];
    }
}
