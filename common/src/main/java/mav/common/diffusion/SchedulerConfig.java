package mav.common.diffusion;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How a model was trained to denoise, as its manifest states it, plus the sampling defaults that reach the quality
 * its manifest reports. {@code guidance_min_timestep} (absent: 0) bounds the guidance interval from below: guidance
 * applies only at timesteps at or above it, the conditional prediction alone below. {@code clip_sample_to_condition}
 * (absent: none) holds an SR model's x̂0 to its low-resolution condition's local colour lines ({@link ConditionRange});
 * {@code hold_guided_to_conditional} (absent: none) a guided step's x̂0 to the conditional prediction's
 * ({@link GuidedHold}).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record SchedulerConfig(
        @JsonProperty("num_train_timesteps") int numTrainTimesteps,
        @JsonProperty("beta_schedule") String betaSchedule,
        @JsonProperty("prediction_type") String predictionType,
        @JsonProperty("clip_sample") boolean clipSample,
        @JsonProperty("clip_sample_range") double clipSampleRange,
        @JsonProperty("default_steps") int defaultSteps,
        @JsonProperty("default_guidance_scale") double defaultGuidanceScale,
        @JsonProperty("guidance_min_timestep") int guidanceMinTimestep,
        @JsonProperty("clip_sample_to_condition") ConditionClip clipSampleToCondition,
        @JsonProperty("hold_guided_to_conditional") ConditionClip holdGuidedToConditional) {

    /**
     * Whether a step at {@code timestep} runs guided at {@code scale}: a scale other than 1, inside the interval.
     * Guided low-noise steps steepen a decoder's edges into a complementary-colour rim (docs/models.md §9), and an
     * unguided step needs only the conditional batch item.
     */
    public boolean guidedAt(long timestep, double scale) {
        return scale != 1.0 && timestep >= guidanceMinTimestep;
    }

    public PredictionType prediction() {
        return PredictionType.fromId(predictionType);
    }
}
