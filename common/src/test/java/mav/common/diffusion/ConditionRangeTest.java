package mav.common.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import mav.common.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** What holding an SR sample to its condition's colour lines keeps and takes away. */
class ConditionRangeTest {
    private static final NoiseSchedule COSINE = NoiseSchedule.of("squaredcos_cap_v2", 1000);
    private static final ConditionClip CLIP = new ConditionClip(1, 0);

    /** One RGB frame [1, 3, 1, w]: a row of colours. */
    private static Tensor row(float[]... colours) {
        int w = colours.length;
        float[] data = new float[3 * w];
        for (int x = 0; x < w; x++) {
            for (int c = 0; c < 3; c++) {
                data[c * w + x] = colours[x][c];
            }
        }
        return new Tensor(new long[] {1, 3, 1, w}, data);
    }

    private static float[] pixel(float[] x0, int plane, int i) {
        return new float[] {x0[i], x0[plane + i], x0[2 * plane + i]};
    }

    @Test
    void aSteepenedEdgeStaysAndARimPastEitherSideOrOffTheLineIsTakenOff() {
        float[] gray = {0f, 0f, 0f};
        float[] blue = {-1f, -1f, 1f};
        ConditionRange range = ConditionRange.of(row(gray, gray, blue, blue), CLIP);
        // upsampled 2×: 2 rows of 8; a steep edge, a pixel past the blue, a yellow one (off the gray–blue line)
        int plane = 16;
        float[][] drawn = {gray, gray, gray, {-0.5f, -0.5f, 0.5f}, blue, {-1.2f, -1.2f, 1.2f}, blue, {0.3f, 0.3f, -0.3f}};
        float[] x0 = new float[3 * plane];
        for (int i = 0; i < 16; i++) {
            for (int c = 0; c < 3; c++) {
                x0[c * plane + i] = drawn[i % 8][c];
            }
        }
        range.clamp(x0);
        assertArrayEquals(new float[] {-0.5f, -0.5f, 0.5f}, pixel(x0, plane, 3), 1e-6f, "on the line: kept");
        assertArrayEquals(blue, pixel(x0, plane, 5), 1e-6f, "past the blue: the blue");
        // column 7 lies in the last condition pixel, whose window is all blue
        assertArrayEquals(blue, pixel(x0, plane, 7), 1e-6f, "the yellow rim: the window's only colour");
        assertArrayEquals(pixel(x0, plane, 3), pixel(x0, plane, 11), "both output rows alike");
    }

    @Test
    void aFlatConditionTakesTheSamplesPatternOff() {
        float[] flat = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f, 0.2f};
        float[] pattern = new float[3 * 2 * 4];
        for (int i = 0; i < pattern.length; i++) {
            pattern[i] = 0.2f + (i % 2 == 0 ? 0.01f : -0.01f);
        }
        ConditionRange.of(new Tensor(new long[] {1, 3, 1, 2}, flat), new ConditionClip(1, 0.5)).clamp(pattern);
        for (float v : pattern) {
            assertEquals(0.2f, v, 1e-7f);
        }
    }

    @Test
    void aDenoiserWhoseX0IsOnTheLineIsLeftAsItIs() throws Exception {
        float[] black = {-1f, -1f, -1f};
        float[] white = {1f, 1f, 1f};
        ConditionRange range = ConditionRange.of(row(black, white), CLIP);
        float[] sample = new float[3 * 2 * 4];
        for (int i = 0; i < 8; i++) {  // gray levels: on the black–white line
            float v = (i - 4) * 0.05f;
            sample[i] = v;
            sample[8 + i] = v;
            sample[16 + i] = v;
        }
        float[] eps = new float[sample.length];  // x̂0 = x_t / √ᾱ_t, inside the line's extent at t = 100
        float[] out = range.around((x, t) -> eps.clone(), COSINE, PredictionType.EPSILON).predict(sample, 100);
        assertArrayEquals(eps, out, 1e-5f);
    }

    @Test
    void eachFrameAndEachBatchItemIsHeldToItsOwnLines() {
        // [2, 3, 2, 1, 1]: two batch items of two one-pixel frames, four flat colours
        float[] condition = {0f, 0.1f, 0f, 0.1f, 0f, 0.1f, 0.5f, 0.6f, 0.5f, 0.6f, 0.5f, 0.6f};
        float[] x0 = new float[2 * 3 * 2 * 4];
        java.util.Arrays.fill(x0, 0.3f);
        ConditionRange.of(new Tensor(new long[] {2, 3, 2, 1, 1}, condition), CLIP).clamp(x0);
        float[] expected = new float[x0.length];
        for (int b = 0; b < 2; b++) {
            for (int c = 0; c < 3; c++) {
                for (int f = 0; f < 2; f++) {
                    for (int i = 0; i < 4; i++) {
                        expected[((b * 3 + c) * 2 + f) * 4 + i] = condition[(b * 3 + c) * 2 + f];
                    }
                }
            }
        }
        assertArrayEquals(expected, x0, 1e-7f);
    }

    @Test
    void thePrincipalDirectionIsTheLargestEigenvaluesVector() {
        double[] d = new double[3];
        double[] work = new double[18];
        SymmetricEigen.principal(new double[] {2, 1, 0, 1, 2, 0, 0, 0, 1}, 3, work, d);
        assertEquals(1 / Math.sqrt(2), Math.abs(d[0]), 1e-12);
        assertEquals(d[0], d[1], 1e-12);
        assertEquals(0, d[2], 1e-12);
        SymmetricEigen.principal(new double[9], 3, work, d);
        assertArrayEquals(new double[] {1, 0, 0}, d);
    }

    @Test
    void aSampleThatIsNotTheConditionScaledIsRefused() {
        ConditionRange range = ConditionRange.of(new Tensor(new long[] {1, 3, 2, 2}, new float[12]), CLIP);
        var e = assertThrows(IllegalArgumentException.class, () -> range.clamp(new float[12 * 3]));
        assertTrue(e.getMessage().contains("whole factor"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ConditionRange.of(new Tensor(new long[] {3, 4},
                new float[12]), CLIP));
        assertThrows(IllegalArgumentException.class, () -> new ConditionClip(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> new ConditionClip(1, Double.NaN));
    }
}
