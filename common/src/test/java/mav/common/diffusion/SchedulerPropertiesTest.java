package mav.common.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Properties that hold whatever the reference fixtures say: exact denoising with a perfect model, spacing, noise. */
class SchedulerPropertiesTest {
    private final NoiseSchedule cosine = NoiseSchedule.of("squaredcos_cap_v2", 1000);

    @Test
    void leadingSpacingMatchesDiffusers() {
        DdimScheduler s = new DdimScheduler(cosine, PredictionType.EPSILON, false, 1.0, 0.0);
        s.setTimesteps(50);
        int[] t = s.timesteps();
        assertEquals(50, t.length);
        assertEquals(980, t[0]);
        assertEquals(960, t[1]);
        assertEquals(0, t[49]);
        s.setTimesteps(3);
        assertArrayEquals(new int[] {666, 333, 0}, s.timesteps());
    }

    @Test
    void aSampleOfManyChunksStepsAsItsPiecesDoAlone() {
        DdimScheduler s = new DdimScheduler(cosine, PredictionType.EPSILON, true, 1.0, 0.5);
        s.setTimesteps(10);
        int n = ElementChunks.CHUNK * 3 + 123;
        float[] x = new float[n];
        float[] out = new float[n];
        float[] noise = new float[n];
        java.util.Random r = new java.util.Random(7);
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
            out[i] = (float) r.nextGaussian();
            noise[i] = (float) r.nextGaussian();
        }
        int t = s.timesteps()[2];
        SchedulerOutput whole = s.step(out, t, x, noise);
        int piece = ElementChunks.CHUNK / 2 + 1;  // pieces of one chunk each, cut off the chunks' boundaries
        for (int from = 0; from < n; from += piece) {
            int to = Math.min(n, from + piece);
            SchedulerOutput part = s.step(java.util.Arrays.copyOfRange(out, from, to), t,
                    java.util.Arrays.copyOfRange(x, from, to), java.util.Arrays.copyOfRange(noise, from, to));
            assertArrayEquals(part.prevSample(), java.util.Arrays.copyOfRange(whole.prevSample(), from, to));
            assertArrayEquals(part.predOriginalSample(), java.util.Arrays.copyOfRange(whole.predOriginalSample(), from, to));
        }
    }

    @Test
    void stepRefusesToRunBeforeSetTimesteps() {
        DdimScheduler s = new DdimScheduler(cosine, PredictionType.EPSILON, false, 1.0, 0.0);
        var e = assertThrows(IllegalStateException.class, () -> s.step(new float[1], 0, new float[1], null));
        assertTrue(e.getMessage().contains("setTimesteps"));
        assertThrows(IllegalArgumentException.class, () -> s.setTimesteps(0));
        assertThrows(IllegalArgumentException.class, () -> NoiseSchedule.of("quadratic", 1000));
    }

    @Test
    void cosineScheduleDecreasesFromNearOneToNearZero() {
        assertEquals(1.0, cosine.alphaCumprod(-1));
        assertTrue(cosine.alphaCumprod(0) > 0.9999);
        assertTrue(cosine.alphaCumprod(999) < 1e-4);
        for (int t = 1; t < 1000; t++) {
            assertTrue(cosine.alphaCumprod(t) < cosine.alphaCumprod(t - 1));
        }
        NoiseSchedule linear = NoiseSchedule.of("linear", 1000);
        assertEquals(1 - 1e-4, linear.alphaCumprod(0), 1e-12);
    }

    /** A model that predicts the true noise takes DDIM (η = 0) and DDPM's mean straight to x0 along the chain. */
    @Test
    void aPerfectEpsilonModelIsDenoisedExactly() throws Exception {
        float[] x0 = {0.5f, -0.25f, 0.9f, -1.0f};
        float[] eps = new GaussianNoise(3, "test").next(4);
        for (Scheduler s : new Scheduler[] {
                new DdimScheduler(cosine, PredictionType.EPSILON, true, 1.0, 0.0),
                new DdpmScheduler(cosine, PredictionType.EPSILON, true, 1.0)}) {
            float[] out = DenoisingLoop.run(s, 10, noised(x0, eps, 900), (x, t) -> trueEps(x, x0, t),
                    new GaussianNoise(1, "steps"), (i, n) -> { });
            // DDPM adds fresh noise at every step but its posterior mean pulls back to x0; the last step adds none
            assertArrayEquals(x0, out, s instanceof DdimScheduler ? 1e-4f : 2e-3f, s.getClass().getSimpleName());
        }
    }

    /** Started part-way down, the loop runs only the tail of the steps, from the init noised to the first of them. */
    @Test
    void runFromStartsAtTheStrengthsTimestepAndRunsOnlyTheRest() throws Exception {
        float[] x0 = {0.5f, -0.25f, 0.9f, -1.0f};
        float[] init = {0.4f, 0.0f, 0.7f, -0.8f};
        float[] eps = new GaussianNoise(4, "test").next(4);
        DdimScheduler s = new DdimScheduler(cosine, PredictionType.EPSILON, true, 1.0, 0.0);
        List<Integer> seen = new ArrayList<>();
        float[][] first = new float[1][];
        float[] out = DenoisingLoop.runFrom(s, 25, 0.6, init, eps, (x, t) -> {
            if (first[0] == null) {
                first[0] = x.clone();
            }
            seen.add(t);
            return trueEps(x, x0, t);
        }, new GaussianNoise(1, "steps"), (i, n) -> assertEquals(15, n));
        assertEquals(List.of(560, 520, 480, 440, 400, 360, 320, 280, 240, 200, 160, 120, 80, 40, 0), seen);
        assertArrayEquals(noised(init, eps, 560), first[0], 1e-6f);
        // a model that knows x0 takes any start to it
        assertArrayEquals(x0, out, 1e-4f);
        assertArrayEquals(init, DenoisingLoop.runFrom(s, 25, 0.01, init, eps, (x, t) -> {
            throw new AssertionError("no step runs under 1/n");
        }, new GaussianNoise(1, "steps"), (i, n) -> { }));
    }

    @Test
    void sampleAndEpsilonPredictionAgreeOnTheSameX0() {
        float[] x0 = {0.3f, -0.7f};
        float[] eps = {1.2f, -0.4f};
        float[] xt = noised(x0, eps, 500);
        DdimScheduler byEps = new DdimScheduler(cosine, PredictionType.EPSILON, false, 1.0, 0.0);
        DdimScheduler bySample = new DdimScheduler(cosine, PredictionType.SAMPLE, false, 1.0, 0.0);
        byEps.setTimesteps(20);
        bySample.setTimesteps(20);
        SchedulerOutput a = byEps.step(eps, 500, xt, null);
        SchedulerOutput b = bySample.step(x0, 500, xt, null);
        assertArrayEquals(a.prevSample(), b.prevSample(), 1e-5f);
        assertArrayEquals(x0, a.predOriginalSample(), 1e-5f);
    }

    @Test
    void clippingRecomputesTheNoiseFromTheClampedSample() {
        DdimScheduler s = new DdimScheduler(cosine, PredictionType.SAMPLE, true, 1.0, 0.0);
        s.setTimesteps(10);
        float[] xt = {0.1f};
        SchedulerOutput out = s.step(new float[] {3.0f}, 900, xt, null);
        assertEquals(1.0f, out.predOriginalSample()[0]);
        double a = cosine.alphaCumprod(900);
        double aPrev = cosine.alphaCumprod(800);
        double eps = (0.1 - Math.sqrt(a) * 1.0) / Math.sqrt(1 - a);
        assertEquals(Math.sqrt(aPrev) + Math.sqrt(1 - aPrev) * eps, out.prevSample()[0], 1e-5);
    }

    @Test
    void noiseIsStandardNormalAndDependsOnlyOnSeedAndStream() {
        float[] a = new GaussianNoise(42, "decoder").next(200_001);
        assertArrayEquals(a, new GaussianNoise(42, "decoder").next(200_001));
        assertNotEquals(a[0], new GaussianNoise(42, "sr-low").next(1)[0]);
        assertNotEquals(a[0], new GaussianNoise(43, "decoder").next(1)[0]);
        double mean = 0;
        double sq = 0;
        for (float v : a) {
            mean += v;
            sq += v * v;
        }
        mean /= a.length;
        double var = sq / a.length - mean * mean;
        assertEquals(0.0, mean, 0.01);
        assertEquals(1.0, var, 0.01);
    }

    @Test
    void guidanceExtrapolatesFromUnconditionalTowardsConditional() {
        float[] batched = {1f, 2f, 0f, 1f};
        assertArrayEquals(new float[] {3f, 4f}, ClassifierFreeGuidance.combine(batched, 3.0));
        assertArrayEquals(new float[] {1f, 2f}, ClassifierFreeGuidance.combine(batched, 1.0));
        assertArrayEquals(new float[] {5f, 5f, 5f, 5f}, ClassifierFreeGuidance.duplicate(new float[] {5f, 5f}));
    }

    private float[] noised(float[] x0, float[] eps, int t) {
        double a = cosine.alphaCumprod(t);
        float[] x = new float[x0.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (Math.sqrt(a) * x0[i] + Math.sqrt(1 - a) * eps[i]);
        }
        return x;
    }

    private float[] trueEps(float[] xt, float[] x0, int t) {
        double a = cosine.alphaCumprod(t);
        float[] e = new float[xt.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = (float) ((xt[i] - Math.sqrt(a) * x0[i]) / Math.sqrt(1 - a));
        }
        return e;
    }
}
