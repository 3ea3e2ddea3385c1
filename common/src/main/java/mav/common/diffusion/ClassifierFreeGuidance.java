package mav.common.diffusion;

import java.util.Arrays;

/**
 * Classifier-free guidance over one batched model call: batch item 0 is conditional, item 1 unconditional, and the
 * guided output is uncond + s·(cond − uncond).
 */
public final class ClassifierFreeGuidance {
    private ClassifierFreeGuidance() {
    }

    /** Two copies of {@code sample} back to back, the model input of a guided step. */
    public static float[] duplicate(float[] sample) {
        float[] out = new float[sample.length * 2];
        System.arraycopy(sample, 0, out, 0, sample.length);
        System.arraycopy(sample, 0, out, sample.length, sample.length);
        return out;
    }

    /** The conditional half of a guided batch's output, batch item 0. */
    public static float[] conditional(float[] batchedOutput) {
        return Arrays.copyOf(batchedOutput, batchedOutput.length / 2);
    }

    public static float[] combine(float[] batchedOutput, double scale) {
        if (batchedOutput.length % 2 != 0) {
            throw new IllegalArgumentException("a guided batch has an even number of values, got "
                    + batchedOutput.length);
        }
        int n = batchedOutput.length / 2;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            float cond = batchedOutput[i];
            float uncond = batchedOutput[n + i];
            out[i] = (float) (uncond + scale * (cond - uncond));
        }
        return out;
    }
}
