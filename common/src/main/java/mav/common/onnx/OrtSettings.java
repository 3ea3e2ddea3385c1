package mav.common.onnx;

/**
 * How to run models: the execution provider, whether a GPU provider that cannot load may fall back to CPU,
 * intra-op threads (0 = ONNX Runtime's default), whether to warm a session up with one call before it serves,
 * whether idle intra-op threads spin, and continuous batching across jobs: at most {@code maxBatch} jobs per model
 * call (1 = off), a step waiting at most {@code batchWaitMillis} for the others ({@link StepBatcher}).
 */
public record OrtSettings(ExecutionProvider provider, boolean fallbackToCpu, int intraOpThreads, boolean warmUp,
        boolean spinning, int maxBatch, long batchWaitMillis) {

    public OrtSettings {
        if (maxBatch < 1) {
            throw new IllegalArgumentException("max batch must be >= 1, got " + maxBatch);
        }
        if (batchWaitMillis < 0) {
            throw new IllegalArgumentException("batch wait must be >= 0 ms, got " + batchWaitMillis);
        }
    }

    /** Spinning threads, no batching: a bare session as ONNX Runtime sets it up. */
    public OrtSettings(ExecutionProvider provider, boolean fallbackToCpu, int intraOpThreads, boolean warmUp) {
        this(provider, fallbackToCpu, intraOpThreads, warmUp, true, 1, 0);
    }

    public static OrtSettings cpu() {
        return new OrtSettings(ExecutionProvider.CPU, false, 0, false);
    }

    public OrtSettings withBatching(int maxBatch, long batchWaitMillis) {
        return new OrtSettings(provider, fallbackToCpu, intraOpThreads, warmUp, spinning, maxBatch, batchWaitMillis);
    }
}
