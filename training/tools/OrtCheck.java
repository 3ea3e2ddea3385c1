import ai.onnxruntime.*;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.*;
import java.nio.file.*;
import java.util.*;

/**
 * Runs ONNX Runtime (Java, CPU) on the parity fixtures written by mav_training.export and prints the max abs error
 * per model; with time, times one full-size call per model; with plan, times each stage's calls of a plan written by
 * {@code ./mav bench --compare} (mav.local.ModelPlan; the same plan mav_training.time_models times in PyTorch) and
 * prints one JSON line per entry. Run with training/tools/ort_check.sh.
 *   java OrtCheck.java parity FIXTURES_PARITY_DIR MODELS_ROOT
 *   java OrtCheck.java time MODELS_ROOT [THREADS]
 *   java OrtCheck.java plan PLAN_JSON MODELS_ROOT [THREADS]
 */
public class OrtCheck {
    static final ObjectMapper M = new ObjectMapper();

    static float[] readNpy(Path p, long[][] shapeOut) throws IOException {
        byte[] b = Files.readAllBytes(p);
        int hlen = (b[8] & 0xff) | ((b[9] & 0xff) << 8);
        String header = new String(b, 10, hlen);
        String shape = header.replaceAll(".*'shape': \\(([^)]*)\\).*", "$1").trim();
        long[] s = Arrays.stream(shape.split(",")).map(String::trim).filter(x -> !x.isEmpty())
                .mapToLong(Long::parseLong).toArray();
        shapeOut[0] = s;
        FloatBuffer fb = ByteBuffer.wrap(b, 10 + hlen, b.length - 10 - hlen).order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer();
        float[] out = new float[fb.remaining()];
        fb.get(out);
        return out;
    }

    public static void main(String[] args) throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        if (args[0].equals("parity")) {
            Path root = Paths.get(args[1]);
            Path models = Paths.get(args[2]);
            try (var dirs = Files.list(root)) {
                for (Path d : dirs.sorted().toList()) {
                    JsonNode idx = M.readTree(d.resolve("parity.json").toFile());
                    String name = idx.get("model").asText();
                    try (OrtSession s = env.createSession(models.resolve(name).resolve("1/model.onnx").toString(), opts)) {
                        Map<String, OnnxTensor> in = new LinkedHashMap<>();
                        for (var e : iter(idx.get("inputs").fields())) {
                            JsonNode v = e.getValue();
                            long[] shape = M.convertValue(v.get("shape"), long[].class);
                            if (v.get("dtype").asText().equals("int64")) {
                                long[] vals = M.convertValue(v.get("values"), long[].class);
                                in.put(e.getKey(), OnnxTensor.createTensor(env, LongBuffer.wrap(vals), shape));
                            } else {
                                long[][] sh = new long[1][];
                                float[] data = readNpy(d.resolve(v.get("file").asText()), sh);
                                in.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape));
                            }
                        }
                        long t0 = System.nanoTime();
                        try (OrtSession.Result r = s.run(in)) {
                            double ms = (System.nanoTime() - t0) / 1e6;
                            for (var e : iter(idx.get("outputs").fields())) {
                                long[][] sh = new long[1][];
                                float[] exp = readNpy(d.resolve(e.getValue().get("file").asText()), sh);
                                OnnxTensor t = (OnnxTensor) r.get(e.getKey()).get();
                                FloatBuffer fb = t.getFloatBuffer();
                                double max = 0, maxRef = 0;
                                for (int i = 0; i < exp.length; i++) {
                                    max = Math.max(max, Math.abs(fb.get(i) - exp[i]));
                                    maxRef = Math.max(maxRef, Math.abs(exp[i]));
                                }
                                System.out.printf("%-13s %-22s max_abs_err %.3g (max |ref| %.3g) %.0f ms%n", name,
                                        e.getKey(), max, maxRef, ms);
                            }
                        }
                    }
                }
            }
        } else if (args[0].equals("plan")) {
            plan(env, opts, Paths.get(args[1]), Paths.get(args[2]), args.length > 3 ? Integer.parseInt(args[3]) : 2);
        } else {
            Path models = Paths.get(args[1]);
            int threads = args.length > 2 ? Integer.parseInt(args[2]) : 2;
            long e = M.readTree(models.resolve("decoder/1/manifest.json").toFile()).get("parameters").get("embed_dim").asLong();
            opts.setIntraOpNumThreads(threads);
            time(env, opts, models, "decoder", Map.of("sample", new long[] {2, 3, 16, 64, 64},
                    "image_embed", new long[] {2, e}, "fps", new long[] {2}), 2);
            time(env, opts, models, "interpolator", Map.of("sample", new long[] {1, 3, 76, 64, 64},
                    "image_embed", new long[] {1, e}, "fps", new long[] {1}, "masked_frames",
                    new long[] {1, 3, 76, 64, 64}, "mask", new long[] {1, 1, 76, 64, 64}, "frame_skip", new long[] {1}), 1);
            time(env, opts, models, "sr_low", Map.of("sample", new long[] {1, 3, 76, 256, 256},
                    "low_res", new long[] {1, 3, 76, 64, 64}), 1);
            time(env, opts, models, "sr_high", Map.of("sample", new long[] {4, 3, 768, 768},
                    "low_res", new long[] {4, 3, 256, 256}), 4);
        }
    }

    static void time(OrtEnvironment env, OrtSession.SessionOptions opts, Path models, String name,
            Map<String, long[]> shapes, int batch) throws Exception {
        try (OrtSession s = env.createSession(models.resolve(name).resolve("1/model.onnx").toString(), opts)) {
            Map<String, OnnxTensor> in = new LinkedHashMap<>();
            Random rnd = new Random(0);
            for (var e : shapes.entrySet()) {
                long[] sh = e.getValue().clone();
                for (int i = 0; i < sh.length; i++) sh[i] = Math.abs(sh[i]);
                int n = (int) Arrays.stream(sh).reduce(1, (a, b) -> a * b);
                float[] d = new float[n];
                for (int i = 0; i < n; i++) d[i] = (float) rnd.nextGaussian() * 0.5f;
                if (e.getKey().equals("fps") || e.getKey().equals("frame_skip")) Arrays.fill(d, 5f);
                in.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(d), sh));
            }
            long[] t = new long[batch];
            Arrays.fill(t, 500);
            in.put("timestep", OnnxTensor.createTensor(env, LongBuffer.wrap(t), new long[] {batch}));
            s.run(in).close();
            long t0 = System.nanoTime();
            s.run(in).close();
            System.out.printf("%-13s one call %s: %.0f ms%n", name, Arrays.toString(shapes.get("sample")),
                    (System.nanoTime() - t0) / 1e6);
        }
    }

    /**
     * One warm-up call (as a service's), then {@code timed} of the entry's calls timed (all of them without it) and
     * scaled to its count, on inputs made once: the bare runtime.
     */
    static void plan(OrtEnvironment env, OrtSession.SessionOptions opts, Path plan, Path models, int threads)
            throws Exception {
        opts.setIntraOpNumThreads(threads);
        opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT); // as OnnxModel does
        if ("0".equals(System.getenv("ORT_ALLOW_SPINNING"))) {
            opts.addConfigEntry("session.intra_op.allow_spinning", "0"); // as MAV_ORT_SPINNING=false
        }
        Random rnd = new Random(0);
        for (JsonNode entry : M.readTree(plan.toFile()).get("stages")) {
            String model = entry.get("model").asText();
            int calls = entry.get("calls").asInt();
            try (OrtSession s = env.createSession(models.resolve(model).resolve("1/model.onnx").toString(), opts)) {
                Map<String, OnnxTensor> in = new LinkedHashMap<>();
                for (JsonNode spec : entry.get("inputs")) {
                    long[] sh = M.convertValue(spec.get("shape"), long[].class);
                    int n = (int) Arrays.stream(sh).reduce(1, (a, b) -> a * b);
                    JsonNode fill = spec.get("fill");
                    if (spec.get("dtype").asText().equals("int64")) {
                        long[] v = new long[n];
                        Arrays.fill(v, fill.asLong());
                        in.put(spec.get("name").asText(), OnnxTensor.createTensor(env, LongBuffer.wrap(v), sh));
                    } else {
                        float[] v = new float[n];
                        for (int i = 0; i < n; i++) {
                            v[i] = fill.isTextual() ? (float) rnd.nextGaussian() * 0.5f : (float) fill.asDouble();
                        }
                        in.put(spec.get("name").asText(), OnnxTensor.createTensor(env, FloatBuffer.wrap(v), sh));
                    }
                }
                s.run(in).close();
                int timed = entry.has("timed") ? entry.get("timed").asInt() : calls;
                long t0 = System.nanoTime();
                for (int i = 0; i < timed; i++) {
                    s.run(in).close();
                }
                // every call has the same shapes: the timed ones scaled to the stage's count
                double seconds = (System.nanoTime() - t0) / 1e9 * calls / timed;
                System.out.printf(Locale.ROOT, "{\"stage\": \"%s\", \"model\": \"%s\", \"calls\": %d, \"timed\": %d,"
                        + " \"seconds\": %.3f}%n", entry.get("stage").asText(), model, calls, timed, seconds);
                System.err.printf(Locale.ROOT, "ort %s: %d calls %.2f s%n", model, calls, seconds);
                in.values().forEach(OnnxTensor::close);
            }
        }
    }

    static <T> Iterable<T> iter(Iterator<T> it) {
        return () -> it;
    }
}
