package mav.common.onnx;

/**
 * How to run models: the execution provider, whether a GPU provider that cannot load may fall back to CPU,
 * intra-op threads (0 = ONNX Runtime's default) and whether to warm a session up with one call before it serves.
 */
public record OrtSettings(ExecutionProvider provider, boolean fallbackToCpu, int intraOpThreads, boolean warmUp) {
    public static OrtSettings cpu() {
        return new OrtSettings(ExecutionProvider.CPU, false, 0, false);
    }
}
