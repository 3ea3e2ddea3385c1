package mav.common.onnx;

/**
 * How to run models: the execution provider, whether a GPU provider that cannot load may fall back to CPU, and
 * intra-op threads (0 = ONNX Runtime's default).
 */
public record OrtSettings(ExecutionProvider provider, boolean fallbackToCpu, int intraOpThreads) {
    public static OrtSettings cpu() {
        return new OrtSettings(ExecutionProvider.CPU, false, 0);
    }
}
