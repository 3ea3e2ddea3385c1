package mav.common.onnx;

/** A model could not be found, read, loaded on the configured execution provider, or breaks its contract. */
public class ModelLoadException extends RuntimeException {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
