package mav.common.onnx;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import mav.common.diffusion.SchedulerConfig;

/**
 * A model version's {@code manifest.json}: its tensor contract, the noise schedule it was trained with and the
 * sampling defaults. Training data, steps and metrics are kept as free-form JSON for people, not code.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ModelManifest(
        String name,
        String version,
        List<TensorSpec> inputs,
        List<TensorSpec> outputs,
        SchedulerConfig scheduler,
        Map<String, JsonNode> parameters,
        TokenizerSpec tokenizer) {

    private static final ObjectMapper MAPPER = new ObjectMapper();

    public static ModelManifest read(Path file) {
        try {
            return MAPPER.readValue(file.toFile(), ModelManifest.class);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read model manifest " + file + ": " + e.getMessage(), e);
        }
    }

    /** An integer parameter the stage depends on, e.g. {@code frames}; missing is an error naming the model. */
    public int intParameter(String key) {
        JsonNode v = parameters == null ? null : parameters.get(key);
        if (v == null || !v.canConvertToInt()) {
            throw new ModelLoadException("manifest of " + name + " has no integer parameter '" + key + "'");
        }
        return v.asInt();
    }

    /**
     * A number the stage's sampler must use with this model, e.g. {@code frame_noise_correlation}; absent
     * means {@code fallback} (manifests older than the parameter), anything else that is not a number is an error.
     */
    public double doubleParameter(String key, double fallback) {
        JsonNode v = parameters == null ? null : parameters.get(key);
        if (v == null) {
            return fallback;
        }
        if (!v.isNumber()) {
            throw new ModelLoadException("manifest of " + name + ": parameter '" + key + "' is not a number: " + v);
        }
        return v.asDouble();
    }

    public SchedulerConfig requireScheduler() {
        if (scheduler == null) {
            throw new ModelLoadException("manifest of " + name + " has no scheduler block");
        }
        // below 1 guidance extrapolates away from the condition: a manifest that asks for it is broken
        if (!(scheduler.defaultGuidanceScale() >= 1.0)) {
            throw new ModelLoadException("manifest of " + name + ": default_guidance_scale must be >= 1, got "
                    + scheduler.defaultGuidanceScale());
        }
        if (scheduler.guidanceMinTimestep() < 0) {
            throw new ModelLoadException("manifest of " + name + ": guidance_min_timestep must be >= 0, got "
                    + scheduler.guidanceMinTimestep());
        }
        return scheduler;
    }
}
