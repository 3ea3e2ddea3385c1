package mav.common.diffusion;

import java.util.SplittableRandom;

/**
 * Standard normal noise that depends only on (seed, stream), drawn with SplittableRandom and Box–Muller so that
 * every JDK, machine and replica produces the same values for the same job.
 */
public final class GaussianNoise {
    private final SplittableRandom random;

    public GaussianNoise(long seed, String stream) {
        this.random = new SplittableRandom(seed * 0x9E3779B97F4A7C15L ^ stream.hashCode());
    }

    public float[] next(int n) {
        float[] out = new float[n];
        for (int i = 0; i < n; i += 2) {
            double u1 = 1.0 - random.nextDouble(); // (0, 1]: log stays finite
            double u2 = random.nextDouble();
            double r = Math.sqrt(-2.0 * Math.log(u1));
            out[i] = (float) (r * Math.cos(2 * Math.PI * u2));
            if (i + 1 < n) {
                out[i + 1] = (float) (r * Math.sin(2 * Math.PI * u2));
            }
        }
        return out;
    }
}
