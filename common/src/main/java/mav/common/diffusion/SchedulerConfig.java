package mav.common.diffusion;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How a model was trained to denoise, as its manifest states it, plus the sampling defaults that reach the quality
 * its manifest reports.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record SchedulerConfig(
        @JsonProperty("num_train_timesteps") int numTrainTimesteps,
        @JsonProperty("beta_schedule") String betaSchedule,
        @JsonProperty("prediction_type") String predictionType,
        @JsonProperty("clip_sample") boolean clipSample,
        @JsonProperty("clip_sample_range") double clipSampleRange,
        @JsonProperty("default_steps") int defaultSteps,
        @JsonProperty("default_guidance_scale") double defaultGuidanceScale) {

    public PredictionType prediction() {
        return PredictionType.fromId(predictionType);
    }
}
