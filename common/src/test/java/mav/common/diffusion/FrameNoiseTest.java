package mav.common.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class FrameNoiseTest {
    private static final int C = 3, F = 8, PLANE = 64 * 64;

    @Test
    void zeroCorrelationIsThePlainStream() {
        float[] plain = new GaussianNoise(7, "decoder").next(C * F * PLANE);
        assertArrayEquals(plain, FrameNoise.correlated(new GaussianNoise(7, "decoder"), C, F, PLANE, 0.0));
    }

    @Test
    void framesAreCorrelatedByRhoAndStayStandardNormal() {
        double rho = 0.5;
        float[] x = FrameNoise.correlated(new GaussianNoise(7, "decoder"), C, F, PLANE, rho);
        double sum = 0, sq = 0, cross = 0;
        int n = 0, pairs = 0;
        for (int c = 0; c < C; c++) {
            for (int f = 0; f < F; f++) {
                for (int i = 0; i < PLANE; i++) {
                    double v = x[(c * F + f) * PLANE + i];
                    sum += v;
                    sq += v * v;
                    n++;
                    if (f > 0) {
                        cross += v * x[(c * F + f - 1) * PLANE + i];
                        pairs++;
                    }
                }
            }
        }
        assertEquals(0.0, sum / n, 0.01);
        assertEquals(1.0, sq / n, 0.02);
        assertEquals(rho, cross / pairs, 0.02); // E[ε_f·ε_{f-1}] = ρ
    }

    @Test
    void refusesACorrelationOutsideTheUnitInterval() {
        GaussianNoise noise = new GaussianNoise(1, "decoder");
        assertThrows(IllegalArgumentException.class, () -> FrameNoise.correlated(noise, C, F, PLANE, 1.0));
        assertThrows(IllegalArgumentException.class, () -> FrameNoise.correlated(noise, C, F, PLANE, -0.1));
    }
}
