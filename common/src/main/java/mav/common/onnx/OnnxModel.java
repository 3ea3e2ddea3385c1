package mav.common.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import mav.common.tensor.Tensor;

/**
 * One ONNX model version loaded into an ONNX Runtime session. At load time the session's inputs and outputs are
 * checked against the manifest, so a model that breaks its contract never becomes ready.
 */
public final class OnnxModel implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(OnnxModel.class.getName());
    private final OrtEnvironment env = OrtEnvironment.getEnvironment();
    private final OrtSession session;
    private final ModelManifest manifest;
    private final Path dir;
    private final ExecutionProvider provider;
    /** Null unless several jobs may share a call (max batch > 1). */
    private final StepBatcher batcher;
    /** Per worker thread, direct buffers reused from call to call, by input or output name: no per-step allocation. */
    private final ThreadLocal<Map<String, FloatBuffer>> buffers = ThreadLocal.withInitial(HashMap::new);
    /** Output shapes seen per input shapes, so that later calls can write their outputs into reused buffers. */
    private final Map<String, Map<String, long[]>> outputShapes = new ConcurrentHashMap<>();

    private OnnxModel(OrtSession session, ModelManifest manifest, Path dir, ExecutionProvider provider,
            OrtSettings settings) {
        this.session = session;
        this.manifest = manifest;
        this.dir = dir;
        this.provider = provider;
        this.batcher = settings.maxBatch() > 1 ? new StepBatcher(this, settings.maxBatch(), settings.batchWaitMillis())
                : null;
    }

    /**
     * Loads {@code dir/model.onnx} with {@code dir/manifest.json}.
     *
     * @throws ModelLoadException if the file is missing, the provider cannot load (and no fallback is allowed) or
     *                            the session does not match the manifest
     */
    public static OnnxModel load(Path dir, OrtSettings settings) {
        ModelManifest manifest = ModelManifest.read(dir.resolve("manifest.json"));
        String file = dir.resolve("model.onnx").toString();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        ExecutionProvider used = settings.provider();
        OrtSession session;
        try {
            session = env.createSession(file, options(settings, settings.provider()));
        } catch (OrtException | RuntimeException e) {
            if (settings.provider() == ExecutionProvider.CPU || !settings.fallbackToCpu()) {
                throw new ModelLoadException("cannot load " + file + " on " + settings.provider() + ": "
                        + e.getMessage() + (settings.provider() == ExecutionProvider.CPU ? ""
                        : " (set MAV_ORT_FALLBACK_CPU=true to run on CPU instead)"), e);
            }
            LOG.warning("execution provider " + settings.provider() + " cannot load " + file + " (" + e.getMessage()
                    + "); falling back to CPU as configured");
            used = ExecutionProvider.CPU;
            try {
                session = env.createSession(file, options(settings, ExecutionProvider.CPU));
            } catch (OrtException e2) {
                throw new ModelLoadException("cannot load " + file + " on CPU: " + e2.getMessage(), e2);
            }
        }
        OnnxModel model = new OnnxModel(session, manifest, dir, used, settings);
        try {
            model.checkContract();
            if (settings.warmUp()) {
                model.warmUp();
            }
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        return model;
    }

    private static OrtSession.SessionOptions options(OrtSettings settings, ExecutionProvider provider)
            throws OrtException {
        OrtSession.SessionOptions o = new OrtSession.SessionOptions();
        o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        if (settings.intraOpThreads() > 0) {
            o.setIntraOpNumThreads(settings.intraOpThreads());
        }
        if (!settings.spinning()) {
            // idle intra-op threads sleep instead of spinning: the cores are shared with other services and ffmpeg
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
        }
        switch (provider) {
            case CUDA -> o.addCUDA(0);
            case CPU -> { }
        }
        return o;
    }

    private void checkContract() {
        try {
            check("input", manifest.inputs(), session.getInputInfo());
            check("output", manifest.outputs(), session.getOutputInfo());
        } catch (OrtException e) {
            throw new ModelLoadException("cannot inspect " + dir + ": " + e.getMessage(), e);
        }
    }

    private void check(String kind, List<TensorSpec> specs, Map<String, NodeInfo> actual) {
        if (specs == null) {
            throw new ModelLoadException(dir + "/manifest.json lists no " + kind + "s");
        }
        for (TensorSpec spec : specs) {
            NodeInfo node = actual.get(spec.name());
            if (node == null) {
                throw new ModelLoadException(dir + ": manifest " + kind + " '" + spec.name()
                        + "' is not in the ONNX graph (graph has " + actual.keySet() + ")");
            }
            TensorInfo info = (TensorInfo) node.getInfo();
            String dtype = switch (info.type) {
                case FLOAT -> "float32";
                case INT64 -> "int64";
                default -> info.type.toString().toLowerCase();
            };
            if (!dtype.equals(spec.dtype())) {
                throw new ModelLoadException(dir + ": " + kind + " '" + spec.name() + "' is " + dtype
                        + " in the graph but " + spec.dtype() + " in the manifest");
            }
            long[] shape = info.getShape();
            boolean ok = shape.length == spec.shape().size();
            for (int i = 0; ok && i < shape.length; i++) {
                long want = spec.shape().get(i);
                // a dynamic axis in the graph accepts what the manifest fixes; a fixed one must be what it says
                ok = shape[i] < 0 || shape[i] == want;
            }
            if (!ok) {
                throw new ModelLoadException(dir + ": " + kind + " '" + spec.name() + "' has shape "
                        + Arrays.toString(shape) + " in the graph but " + spec.shape() + " in the manifest");
            }
        }
    }

    /**
     * One call on zero inputs of the shapes the stage will use, before the service reports ready. Why: the first
     * run of a session pays for memory planning and arena growth, and a job should not; a model that loads but
     * cannot run (a missing kernel, a GPU out of memory) fails here rather than on a user's job.
     */
    void warmUp() {
        long t0 = System.nanoTime();
        try {
            run(warmUpInputs());
        } catch (OrtException | RuntimeException e) {
            throw new ModelLoadException(dir + ": warm-up run failed: " + e.getMessage(), e);
        }
        LOG.info(() -> String.format("warmed up %s on %s in %.2f s", versionTag(), provider,
                (System.nanoTime() - t0) / 1e9));
    }

    /** Zeros of every manifest input: batch 1, other dynamic axes the manifest's {@code frames} (else 1). */
    Inputs warmUpInputs() {
        JsonNode frames = manifest.parameters() == null ? null : manifest.parameters().get("frames");
        long f = frames != null && frames.canConvertToInt() ? frames.asInt() : 1;
        Inputs inputs = new Inputs();
        for (TensorSpec spec : manifest.inputs()) {
            long[] shape = new long[spec.shape().size()];
            for (int i = 0; i < shape.length; i++) {
                long d = spec.shape().get(i);
                shape[i] = d >= 0 ? d : i == 0 ? 1 : f;
            }
            int n = Math.toIntExact(Tensor.elementCount(shape));
            if ("int64".equals(spec.dtype())) {
                inputs.putLong(spec.name(), shape, new long[n]);
            } else {
                inputs.put(spec.name(), new Tensor(shape, new float[n]));
            }
        }
        return inputs;
    }

    public ModelManifest manifest() {
        return manifest;
    }

    public Path dir() {
        return dir;
    }

    /** The provider this session actually runs on, CPU after a fallback. */
    public ExecutionProvider provider() {
        return provider;
    }

    /** {@code name/version}, as recorded in events and video metadata. */
    public String versionTag() {
        return manifest.name() + "/" + dir.getFileName();
    }

    /** Inputs of one call: float tensors and int64 vectors by name. */
    public static final class Inputs {
        final Map<String, Tensor> floats = new LinkedHashMap<>();
        final Map<String, long[][]> longs = new LinkedHashMap<>();

        public Inputs put(String name, Tensor t) {
            floats.put(name, t);
            return this;
        }

        /** An int64 tensor of {@code shape} holding {@code values} in C order. */
        public Inputs putLong(String name, long[] shape, long[] values) {
            longs.put(name, new long[][] {shape, values});
            return this;
        }

        long[] shape(String name) {
            Tensor t = floats.get(name);
            return t != null ? t.shape() : longs.get(name)[0];
        }

        /** Every input's name and shape: calls with the same signature have outputs of the same shapes. */
        String signature() {
            StringBuilder sb = new StringBuilder();
            floats.forEach((n, t) -> sb.append(n).append(Arrays.toString(t.shape())));
            longs.forEach((n, l) -> sb.append(n).append(Arrays.toString(l[0])));
            return sb.toString();
        }

        /** The signature without the batch axis: calls that agree on it can be concatenated along axis 0. */
        String batchKey() {
            StringBuilder sb = new StringBuilder();
            floats.forEach((n, t) -> sb.append(n).append(Arrays.toString(Arrays.copyOfRange(t.shape(), 1,
                    t.shape().length))));
            longs.forEach((n, l) -> sb.append(n).append(Arrays.toString(Arrays.copyOfRange(l[0], 1, l[0].length))));
            return sb.toString();
        }

        /** Batch items (axis 0) of the call; every input of these models has the same. */
        int rows() {
            long[] first = floats.isEmpty() ? longs.values().iterator().next()[0]
                    : floats.values().iterator().next().shape();
            return (int) first[0];
        }
    }

    /**
     * The calling thread's sampling loop joins this model's batch of jobs in flight, until the membership is closed
     * (a no-op without batching). See {@link StepBatcher}.
     */
    public StepBatcher.Membership joinBatch() {
        return batcher == null ? () -> { } : batcher.join();
    }

    /** Null without batching. */
    public StepBatcher batcher() {
        return batcher;
    }

    /** Runs the model and returns every output as a float tensor; in a batch of jobs when the caller joined one. */
    public Map<String, Tensor> run(Inputs inputs) throws OrtException {
        return batcher == null ? runDirect(inputs) : batcher.run(inputs);
    }

    /**
     * One session call. Float inputs are copied into direct buffers this thread reuses (ONNX Runtime would copy a
     * heap array into a fresh direct buffer on every call), and once the output shapes for these input shapes are
     * known the outputs are written into reused buffers too (pinned outputs), so a step allocates only its results.
     */
    Map<String, Tensor> runDirect(Inputs inputs) throws OrtException {
        Map<String, OnnxTensor> feed = new HashMap<>();
        Map<String, OnnxTensor> pinned = new LinkedHashMap<>();
        List<OnnxTensor> owned = new ArrayList<>();
        Map<String, FloatBuffer> mine = buffers.get();
        try {
            for (var e : inputs.floats.entrySet()) {
                FloatBuffer b = buffer(mine, "in:" + e.getKey(), e.getValue().data().length);
                b.put(e.getValue().data()).rewind();
                OnnxTensor t = OnnxTensor.createTensor(env, b, e.getValue().shape());
                owned.add(t);
                feed.put(e.getKey(), t);
            }
            for (var e : inputs.longs.entrySet()) {
                OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(e.getValue()[1]), e.getValue()[0]);
                owned.add(t);
                feed.put(e.getKey(), t);
            }
            String signature = inputs.signature();
            Map<String, long[]> shapes = outputShapes.get(signature);
            if (shapes != null) {
                for (var e : shapes.entrySet()) {
                    FloatBuffer b = buffer(mine, "out:" + e.getKey(), Math.toIntExact(Tensor.elementCount(e.getValue())));
                    OnnxTensor t = OnnxTensor.createTensor(env, b, e.getValue());
                    owned.add(t);
                    pinned.put(e.getKey(), t);
                }
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (OrtSession.Result result = pinned.isEmpty() ? session.run(feed) : session.run(feed, pinned)) {
                if (!pinned.isEmpty()) {
                    for (var e : shapes.entrySet()) {
                        FloatBuffer b = mine.get("out:" + e.getKey());
                        float[] data = new float[b.capacity()];
                        b.rewind();
                        b.get(data).rewind();
                        out.put(e.getKey(), new Tensor(e.getValue().clone(), data));
                    }
                    return out;
                }
                Map<String, long[]> seen = new LinkedHashMap<>();
                for (Map.Entry<String, OnnxValue> e : result) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    FloatBuffer fb = t.getFloatBuffer();
                    float[] data = new float[fb.remaining()];
                    fb.get(data);
                    long[] shape = t.getInfo().getShape();
                    out.put(e.getKey(), new Tensor(shape, data));
                    seen.put(e.getKey(), shape.clone());
                }
                outputShapes.putIfAbsent(signature, seen);
            }
            return out;
        } finally {
            owned.forEach(OnnxTensor::close);
        }
    }

    /** This thread's direct buffer {@code key} of exactly {@code n} floats, made once and reused. */
    private static FloatBuffer buffer(Map<String, FloatBuffer> mine, String key, int n) {
        FloatBuffer b = mine.get(key);
        if (b == null || b.capacity() != n) {
            b = ByteBuffer.allocateDirect(n * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
            mine.put(key, b);
        }
        b.clear();
        return b;
    }

    @Override
    public void close() {
        try {
            session.close();
        } catch (OrtException e) {
            LOG.warning("closing session of " + dir + ": " + e.getMessage());
        }
    }
}
