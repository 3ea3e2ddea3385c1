package mav.common.diffusion;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The manifest's {@code clip_sample_to_condition}: an SR model's x̂0 held to the colour line its condition's
 * (2·radius+1)² pixels around each span, widened by margin × the line's length ({@link ConditionRange}).
 */
public record ConditionClip(@JsonProperty("radius") int radius, @JsonProperty("margin") double margin) {
    public ConditionClip {
        if (radius < 0 || !(margin >= 0)) {
            throw new IllegalArgumentException("clip_sample_to_condition needs radius >= 0 and margin >= 0, got "
                    + radius + " and " + margin);
        }
    }
}
