package mav.common.diffusion;

/** What a denoiser outputs: the noise that was added, or the clean sample itself. */
public enum PredictionType {
    EPSILON, SAMPLE;

    public static PredictionType fromId(String id) {
        return switch (id) {
            case "epsilon" -> EPSILON;
            case "sample" -> SAMPLE;
            default -> throw new IllegalArgumentException("unknown prediction_type '" + id + "' (epsilon, sample)");
        };
    }
}
