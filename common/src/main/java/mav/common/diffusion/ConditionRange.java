package mav.common.diffusion;

import java.util.Arrays;
import java.util.stream.IntStream;
import mav.common.tensor.Tensor;

/**
 * What an SR sampler holds its x̂0 to, read from its low-resolution condition: around each condition pixel, the
 * (2·radius+1)² pixels of its window (stopping at the border) span a colour line, their mean and principal direction,
 * with their extent along it and their largest distance from it. An output pixel's x̂0 is kept on that stretch of
 * line, widened by margin × its length, and no further from it than the window's farthest colour (scaled down
 * towards it). A soft edge between two colours lies on their line, so SR may steepen it; the rims SR draws (colours
 * past either side, or one channel's edge shifted against another's, off the line) and a pattern on a flat
 * background (a line of no length) do not. An SR model's manifest asks for it ({@code clip_sample_to_condition}), a
 * decoder's for its guided steps against its own conditional estimate ({@link GuidedHold}); the reference sampler does
 * the same (training/mav_training/schedulers.py, {@code ColourLine}).
 */
public final class ConditionRange {
    private final int batch;
    private final int channels;
    private final int planes;
    private final int height;
    private final int width;
    /** Per condition pixel (batch item, plane, y, x): mean and direction, channels× each; extent and distance. */
    private final double[] mean;
    private final double[] direction;
    private final double[] low;
    private final double[] high;
    private final double[] off;

    private ConditionRange(int batch, int channels, int planes, int height, int width) {
        this.batch = batch;
        this.channels = channels;
        this.planes = planes;
        this.height = height;
        this.width = width;
        int pixels = batch * planes * height * width;
        mean = new double[pixels * channels];
        direction = new double[pixels * channels];
        low = new double[pixels];
        high = new double[pixels];
        off = new double[pixels];
    }

    /**
     * The colour lines of {@code condition} [B, C, ..., h, w]: channels on axis 1, the pixel's planes (frames) on the
     * axes between C and h.
     */
    public static ConditionRange of(Tensor condition, ConditionClip clip) {
        int rank = condition.rank();
        if (rank < 4) {
            throw new IllegalArgumentException("an SR condition is [B, C, ..., h, w], got rank " + rank);
        }
        int h = (int) condition.dim(rank - 2);
        int w = (int) condition.dim(rank - 1);
        int planes = 1;
        for (int i = 2; i < rank - 2; i++) {
            planes *= (int) condition.dim(i);
        }
        ConditionRange range = new ConditionRange((int) condition.dim(0), (int) condition.dim(1), planes, h, w);
        IntStream.range(0, range.batch * planes * h).parallel().forEach(row -> range.fitRow(condition.data(), row,
                clip));
        return range;
    }

    /** The lines of one row of condition pixels (batch item, plane, y): each window's mean, direction and extents. */
    private void fitRow(float[] data, int row, ConditionClip clip) {
        int inner = planes * height * width;
        int b = row / (planes * height);
        int y = row % height;
        int base = b * channels * inner + (row % (planes * height) - y) * width;
        int r = clip.radius();
        int y0 = Math.max(0, y - r);
        int y1 = Math.min(height - 1, y + r);
        double[] m = new double[channels];
        double[] dev = new double[channels];
        double[] cov = new double[channels * channels];
        double[] d = new double[channels];
        double[] work = new double[2 * channels * channels];
        for (int x = 0; x < width; x++) {
            int x0 = Math.max(0, x - r);
            int x1 = Math.min(width - 1, x + r);
            int n = (y1 - y0 + 1) * (x1 - x0 + 1);
            Arrays.fill(m, 0);
            for (int yy = y0; yy <= y1; yy++) {
                for (int xx = x0; xx <= x1; xx++) {
                    for (int c = 0; c < channels; c++) {
                        m[c] += data[base + c * inner + yy * width + xx];
                    }
                }
            }
            for (int c = 0; c < channels; c++) {
                m[c] /= n;
            }
            Arrays.fill(cov, 0);
            for (int yy = y0; yy <= y1; yy++) {
                for (int xx = x0; xx <= x1; xx++) {
                    for (int c = 0; c < channels; c++) {
                        dev[c] = data[base + c * inner + yy * width + xx] - m[c];
                    }
                    for (int c = 0; c < channels; c++) {
                        for (int e = 0; e < channels; e++) {
                            cov[c * channels + e] += dev[c] * dev[e] / n;
                        }
                    }
                }
            }
            SymmetricEigen.principal(cov, channels, work, d);
            double lo = 0;
            double hi = 0;
            double far = 0;
            for (int yy = y0; yy <= y1; yy++) {
                for (int xx = x0; xx <= x1; xx++) {
                    double along = 0;
                    for (int c = 0; c < channels; c++) {
                        dev[c] = data[base + c * inner + yy * width + xx] - m[c];
                        along += dev[c] * d[c];
                    }
                    double perp = 0;
                    for (int c = 0; c < channels; c++) {
                        double q = dev[c] - along * d[c];
                        perp += q * q;
                    }
                    lo = Math.min(lo, along);
                    hi = Math.max(hi, along);
                    far = Math.max(far, Math.sqrt(perp));
                }
            }
            int pixel = row * width + x;
            double widen = clip.margin() * (hi - lo);
            System.arraycopy(m, 0, mean, pixel * channels, channels);
            System.arraycopy(d, 0, direction, pixel * channels, channels);
            low[pixel] = lo - widen;
            high[pixel] = hi + widen;
            off[pixel] = far + widen;
        }
    }

    /** {@code x0} [B, C, ..., h·f, w·f] held in place, pixel by pixel, to the line of the condition pixel it lies in. */
    public void clamp(float[] x0) {
        hold(x0, null, 1, 0);
    }

    /**
     * {@code denoiser} with its x̂0 held to the lines ({@link #holdPrediction}): what an SR stage samples with.
     */
    public Denoiser around(Denoiser denoiser, NoiseSchedule schedule, PredictionType prediction) {
        return (sample, t) -> {
            float[] out = denoiser.predict(sample, t);
            holdPrediction(out, sample, schedule.alphaCumprod(t), prediction);
            return out;
        };
    }

    /**
     * {@code output}, a model's output at x_t = {@code sample} and ᾱ_t = {@code alphaCumprod}, held in place: turned
     * into x̂0, held, and turned back (ε recomputed from the held x̂0, as the scheduler does for {@code clip_sample}).
     */
    public void holdPrediction(float[] output, float[] sample, double alphaCumprod, PredictionType prediction) {
        if (prediction != PredictionType.EPSILON) {
            clamp(output);
        } else {
            hold(output, sample, Math.sqrt(alphaCumprod), Math.sqrt(1.0 - alphaCumprod));
        }
    }

    /**
     * Holds, output row by output row, the x̂0 of {@code values}: x̂0 itself where {@code sample} is null, else ε̂ at
     * x_t = {@code sample} (x̂0 = (x_t − sb·ε̂) / sa, written back as ε = (x_t − sa·x̂0) / sb where it moved).
     */
    private void hold(float[] values, float[] sample, double sa, double sb) {
        int factor = factorFor(values.length);
        int outWidth = width * factor;
        int outPlane = height * factor * outWidth;
        int outInner = planes * outPlane;
        int rowsPerPlane = height * factor;
        IntStream.range(0, batch * planes * rowsPerPlane).parallel().forEach(row -> {
            int b = row / (planes * rowsPerPlane);
            int plane = row / rowsPerPlane % planes;
            int outY = row % rowsPerPlane;
            int first = b * channels * outInner + plane * outPlane + outY * outWidth;
            int conditionRow = (b * planes + plane) * height + outY / factor;
            double[] x0 = new double[channels];
            for (int x = 0; x < outWidth; x++) {
                int pixel = conditionRow * width + x / factor;
                int at = first + x;
                double along = 0;
                for (int c = 0; c < channels; c++) {
                    double v = values[at + c * outInner];
                    x0[c] = (sample == null ? v : (sample[at + c * outInner] - sb * v) / sa)
                            - mean[pixel * channels + c];
                    along += x0[c] * direction[pixel * channels + c];
                }
                double perp = 0;
                for (int c = 0; c < channels; c++) {
                    x0[c] -= along * direction[pixel * channels + c];
                    perp += x0[c] * x0[c];
                }
                perp = Math.sqrt(perp);
                double held = Math.max(low[pixel], Math.min(high[pixel], along));
                if (held == along && perp <= off[pixel]) {
                    continue;
                }
                double scale = perp > off[pixel] ? off[pixel] / perp : 1.0;
                for (int c = 0; c < channels; c++) {
                    double v = mean[pixel * channels + c] + held * direction[pixel * channels + c] + scale * x0[c];
                    values[at + c * outInner] = (float) (sample == null ? v : (sample[at + c * outInner] - sa * v) / sb);
                }
            }
        });
    }

    private int factorFor(int length) {
        long perPlane = (long) length / ((long) batch * channels * planes);
        int factor = (int) Math.round(Math.sqrt((double) perPlane / (height * width)));
        if (factor < 1 || (long) batch * channels * planes * factor * factor * height * width != length) {
            throw new IllegalArgumentException("a sample of " + length + " values is not the condition's [" + batch
                    + ", " + channels + ", " + planes + " planes, " + height + "×" + width + "] scaled by a whole "
                    + "factor");
        }
        return factor;
    }
}
