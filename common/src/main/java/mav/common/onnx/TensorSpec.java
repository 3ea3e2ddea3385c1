package mav.common.onnx;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import java.util.List;

/** One input or output of a model's contract: name, dtype ({@code float32}, {@code int64}) and dims, -1 dynamic. */
@JsonIgnoreProperties(ignoreUnknown = true)
public record TensorSpec(String name, String dtype, List<Long> shape) {
}
