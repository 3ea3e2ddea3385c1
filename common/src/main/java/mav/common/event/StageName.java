package mav.common.event;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** The five model stages of Make-A-Video, in pipeline order. */
public enum StageName {
    PRIOR("prior", "prior"),
    DECODER("decoder", "decoder"),
    INTERPOLATION("interpolation", "interpolation"),
    SR_LOW("sr-low", "srLow"),
    SR_HIGH("sr-high", "srHigh");

    private final String id;
    private final String stepsKey;

    StageName(String id, String stepsKey) {
        this.id = id;
        this.stepsKey = stepsKey;
    }

    /** The name used in topics, object keys, metrics tags and status events, e.g. {@code sr-low}. */
    @JsonValue
    public String id() {
        return id;
    }

    /** The key of this stage in {@link PromptRequest#steps()}, e.g. {@code srLow}. */
    public String stepsKey() {
        return stepsKey;
    }

    @JsonCreator
    public static StageName fromId(String id) {
        for (StageName s : values()) {
            if (s.id.equals(id)) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown stage '" + id + "'");
    }

    public static boolean isStepsKey(String key) {
        for (StageName s : values()) {
            if (s.stepsKey.equals(key)) {
                return true;
            }
        }
        return false;
    }
}
