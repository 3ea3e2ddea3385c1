package mav.common.tensor;

/** Small array operations the stages share. */
public final class Tensors {
    private Tensors() {
    }

    /** Clamps every value into [lo, hi] in place and returns the array. */
    public static float[] clamp(float[] values, float lo, float hi) {
        for (int i = 0; i < values.length; i++) {
            values[i] = Math.max(lo, Math.min(hi, values[i]));
        }
        return values;
    }

    /** The arrays back to back: a batch made of equally shaped items. */
    public static float[] concat(float[]... parts) {
        int n = 0;
        for (float[] p : parts) {
            n += p.length;
        }
        float[] out = new float[n];
        int at = 0;
        for (float[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** {@code item} repeated {@code times} along a new leading axis. */
    public static float[] repeat(float[] item, int times) {
        float[] out = new float[item.length * times];
        for (int i = 0; i < times; i++) {
            System.arraycopy(item, 0, out, i * item.length, item.length);
        }
        return out;
    }

    /** The same value for each of {@code n} batch items. */
    public static float[] filled(int n, float value) {
        float[] out = new float[n];
        java.util.Arrays.fill(out, value);
        return out;
    }

    public static long[] filled(int n, long value) {
        long[] out = new long[n];
        java.util.Arrays.fill(out, value);
        return out;
    }
}
