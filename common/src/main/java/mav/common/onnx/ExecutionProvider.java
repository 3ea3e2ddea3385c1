package mav.common.onnx;

/**
 * Where ONNX Runtime runs a model. TensorRT is not offered: the GPU image carries no TensorRT libraries and no
 * engine cache, so it could not load as shipped.
 */
public enum ExecutionProvider {
    CPU, CUDA;

    public static ExecutionProvider fromId(String id) {
        return switch (id.toLowerCase()) {
            case "cpu" -> CPU;
            case "cuda" -> CUDA;
            default -> throw new IllegalArgumentException("unknown execution provider '" + id + "' (cpu, cuda)");
        };
    }
}
