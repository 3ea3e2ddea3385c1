import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import mav.common.diffusion.DdimScheduler;
import mav.common.diffusion.DenoisingLoop;
import mav.common.diffusion.Denoiser;
import mav.common.diffusion.GaussianNoise;
import mav.common.onnx.ExecutionProvider;
import mav.common.onnx.ModelManifest;
import mav.common.onnx.OnnxModel;
import mav.common.onnx.OrtSettings;
import mav.common.onnx.TensorSpec;
import mav.common.tensor.Tensor;

/**
 * Stage throughput with continuous batching off and on, in one run: for each model, K jobs in flight at once (K
 * worker threads, as {@code MAV_WORKERS=K}) each run the stage's sampling loop (DDIM, as many model calls as the
 * stage makes at its default steps or at most MAX_CALLS, its working shapes, every job its own inputs); off, each job
 * calls the session itself (the workers as they were), on, they share one call per step ({@code MAV_MAX_BATCH=K}).
 * Prints seconds for the K jobs, jobs/min and the speed-up. Run with common/bench/batch_bench.sh.
 *
 * <pre>java BatchBench.java MODELS_DIR [THREADS] [WAIT_MS] [MAX_CALLS] [model ...]   (default: decoder interpolator)</pre>
 */
public class BatchBench {
    static final int[] JOBS = {1, 2, 4};

    public static void main(String[] args) throws Exception {
        Path models = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        long waitMs = args.length > 2 ? Long.parseLong(args[2]) : 1000;
        int maxCalls = args.length > 3 ? Integer.parseInt(args[3]) : 0;
        List<String> names = args.length > 4 ? List.of(args).subList(4, args.length) : List.of("decoder", "interpolator");
        System.out.printf(Locale.ROOT, "%-13s %4s %6s %11s %11s %11s %11s %10s %9s%n", "model", "jobs", "calls",
                "off: s", "off jobs/m", "on: s", "on jobs/m", "mean batch", "on/off");
        for (String name : names) {
            Path dir = models.resolve(name).resolve("1");
            int calls = maxCalls > 0 ? Math.min(maxCalls, calls(dir)) : calls(dir);
            OrtSettings base = new OrtSettings(ExecutionProvider.CPU, false, threads, true, false, 1, 0); // services' default
            for (int k : JOBS) {
                double off;
                double on;
                long[] counts;
                try (OnnxModel m = OnnxModel.load(dir, base)) {
                    run(m, k, 1); // warm-up at these shapes, as the next one at the batched shapes
                    off = run(m, k, calls);
                }
                try (OnnxModel m = OnnxModel.load(dir, base.withBatching(Math.max(2, k), waitMs))) {
                    run(m, k, 1);
                    long[] before = m.batcher().counts();
                    on = run(m, k, calls);
                    long[] after = m.batcher().counts();
                    counts = new long[] {after[0] - before[0], after[1] - before[1]};
                }
                System.out.printf(Locale.ROOT, "%-13s %4d %6d %11.2f %11.2f %11.2f %11.2f %10.2f %8.2f×%n", name, k,
                        calls, off, k / off * 60, on, k / on * 60, (double) counts[1] / counts[0], off / on);
            }
        }
    }

    /** The model calls of one job at the default steps: ↑F runs only the last ⌊steps·strength⌋. */
    static int calls(Path dir) {
        ModelManifest m = ModelManifest.read(dir.resolve("manifest.json"));
        int steps = m.requireScheduler().defaultSteps();
        double strength = m.doubleParameter("inbetween_strength", 1.0);
        return strength >= 1 ? steps : Math.max(1, Math.min((int) (steps * strength), steps));
    }

    /** K jobs of {@code calls} model calls, started together; the seconds until the last one ends. */
    static double run(OnnxModel model, int k, int calls) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(k);
        try {
            CyclicBarrier start = new CyclicBarrier(k + 1);
            List<Future<?>> jobs = new ArrayList<>();
            for (int j = 0; j < k; j++) {
                long seed = j;
                jobs.add(pool.submit(() -> {
                    // K jobs in flight: members before any of them asks, as in a stage's steady state
                    try (var member = model.joinBatch()) {
                        start.await();
                        return job(model, seed, calls);
                    }
                }));
            }
            start.await();
            long t0 = System.nanoTime();
            for (Future<?> f : jobs) {
                f.get();
            }
            return (System.nanoTime() - t0) / 1e9;
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * One job: the stage's inputs (batch: the decoder's guided pair, sr-high's 4 frames, else 1) and its sampling loop
     * over them.
     */
    static float[] job(OnnxModel model, long seed, int calls) throws Exception {
        ModelManifest m = model.manifest();
        int batch = switch (m.name()) {
            case "decoder" -> 2;
            case "sr_high" -> 4;
            default -> 1;
        };
        long frames = m.parameters().containsKey("frames") ? m.intParameter("frames") : 1;
        GaussianNoise noise = new GaussianNoise(seed, "bench");
        Map<String, Tensor> fixed = new LinkedHashMap<>();
        long[] sampleShape = null;
        for (TensorSpec s : m.inputs()) {
            long[] shape = new long[s.shape().size()];
            for (int i = 0; i < shape.length; i++) {
                long d = s.shape().get(i);
                shape[i] = d >= 0 ? d : i == 0 ? batch : frames;
            }
            if (s.name().equals("sample")) {
                sampleShape = shape;
            } else if (!s.name().equals("timestep")) {
                fixed.put(s.name(), new Tensor(shape, noise.next(Math.toIntExact(Tensor.elementCount(shape)))));
            }
        }
        long[] shape = sampleShape;
        int rows = (int) shape[0];
        float[] start = noise.next(Math.toIntExact(Tensor.elementCount(shape)));
        Denoiser denoiser = (x, t) -> {
            OnnxModel.Inputs in = new OnnxModel.Inputs().put("sample", new Tensor(shape, x));
            long[] ts = new long[rows];
            Arrays.fill(ts, t);
            in.putLong("timestep", new long[] {rows}, ts);
            fixed.forEach(in::put);
            return model.run(in).get("noise_pred").data();
        };
        try (var member = model.joinBatch()) {
            return DenoisingLoop.run(DdimScheduler.of(m.requireScheduler()), calls, start, denoiser,
                    new GaussianNoise(seed, "steps"), (i, n) -> { });
        }
    }
}
