package mav.common.onnx;

/** Where ONNX Runtime runs a model. */
public enum ExecutionProvider {
    CPU, CUDA, TENSORRT;

    public static ExecutionProvider fromId(String id) {
        return switch (id.toLowerCase()) {
            case "cpu" -> CPU;
            case "cuda" -> CUDA;
            case "tensorrt" -> TENSORRT;
            default -> throw new IllegalArgumentException("unknown execution provider '" + id + "' (cpu, cuda, tensorrt)");
        };
    }
}
