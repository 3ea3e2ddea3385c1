package mav.common.diffusion;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * How far a colour-line hold reaches ({@link ConditionRange}): x̂0 held to the colour line the (2·radius+1)² condition
 * pixels around each span, widened by margin × the line's length. A manifest's {@code clip_sample_to_condition} (SR:
 * the low-resolution condition) and {@code hold_guided_to_conditional} (a guided decoder: its conditional x̂0).
 */
public record ConditionClip(@JsonProperty("radius") int radius, @JsonProperty("margin") double margin) {
    public ConditionClip {
        if (radius < 0 || !(margin >= 0)) {
            throw new IllegalArgumentException("a colour-line hold needs radius >= 0 and margin >= 0, got "
                    + radius + " and " + margin);
        }
    }
}
