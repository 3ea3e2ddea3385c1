package mav.common.diffusion;

/**
 * Initial noise for a clip whose frames share part of their noise: ε_f = √ρ·ε_shared + √(1−ρ)·ε_f, the "mixed"
 * video noise prior of Ge et al. (2023, PYoCo). Every element is still standard normal, but two frames' noise is
 * correlated by ρ. The video model trains on such noise (a model fine-tuned from an image model learns far faster to
 * keep its frames coherent when their noise already is) and is sampled from it at the ρ its manifest gives, which
 * may be larger than the training ρ. ρ = 0 is plain independent noise.
 */
public final class FrameNoise {
    private FrameNoise() {
    }

    /**
     * @param noise    the job's noise stream; the independent part is drawn first, then the shared part
     * @param channels leading axis of the (c, f, h, w) layout
     * @param frames   frames per channel
     * @param plane    h·w
     * @param rho      correlation between any two frames' noise, in [0, 1)
     */
    public static float[] correlated(GaussianNoise noise, int channels, int frames, int plane, double rho) {
        if (!(rho >= 0 && rho < 1)) {
            throw new IllegalArgumentException("frame noise correlation must be in [0, 1), got " + rho);
        }
        float[] out = noise.next(channels * frames * plane);
        if (rho == 0) {
            return out;
        }
        float[] shared = noise.next(channels * plane);
        float own = (float) Math.sqrt(1 - rho);
        float common = (float) Math.sqrt(rho);
        for (int c = 0; c < channels; c++) {
            for (int f = 0; f < frames; f++) {
                int base = (c * frames + f) * plane;
                for (int i = 0; i < plane; i++) {
                    out[base + i] = own * out[base + i] + common * shared[c * plane + i];
                }
            }
        }
        return out;
    }
}
