package mav.common.event;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What a user asks for. It travels inside every event so that any stage can be replayed from its input topic.
 *
 * <p>Optional fields are null until {@link #withDefaults()} fills them; the prior stage does that once, so every
 * later stage sees the same seed and settings.
 *
 * @param jobId          {@code [A-Za-z0-9][A-Za-z0-9._-]{0,63}}, also the Kafka key and a path segment of object
 *                       keys (so never {@code .} or {@code ..})
 * @param prompt         1 to {@value #MAX_PROMPT_CHARS} characters
 * @param negativePrompt optional; replaces the empty condition of classifier-free guidance in the prior
 * @param seed           optional; derived from the job id when absent
 * @param fps            frames per second the keyframes are conditioned on, {@value #MIN_FPS}–{@value #MAX_FPS}
 * @param guidanceScale  classifier-free guidance scale, 1–20
 * @param steps          optional sampling steps per stage, keyed by {@link StageName#stepsKey()}
 */
public record PromptRequest(
        String jobId,
        String prompt,
        String negativePrompt,
        Long seed,
        Integer fps,
        Double guidanceScale,
        Map<String, Integer> steps) {

    public static final int MAX_PROMPT_CHARS = 300;
    public static final int MIN_FPS = 1;
    public static final int MAX_FPS = 30;
    public static final int DEFAULT_FPS = 8;
    public static final int MAX_STEPS = 1000;
    private static final Pattern JOB_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public PromptRequest {
        steps = steps == null ? Map.of() : Map.copyOf(steps);
    }

    /** A request for {@code prompt} with every optional field left to its default. */
    public static PromptRequest of(String jobId, String prompt) {
        return new PromptRequest(jobId, prompt, null, null, null, null, Map.of());
    }

    /**
     * Checks every field and names the first one that is wrong, echoing its value.
     *
     * @throws InvalidEventException if a field is missing or out of range
     */
    public PromptRequest validate() {
        if (jobId == null || !JOB_ID.matcher(jobId).matches()) {
            throw new InvalidEventException("jobId must match " + JOB_ID + ", got " + quote(jobId));
        }
        if (prompt == null || prompt.isBlank()) {
            throw new InvalidEventException("prompt is missing or empty");
        }
        if (prompt.length() > MAX_PROMPT_CHARS) {
            throw new InvalidEventException("prompt is " + prompt.length() + " characters, at most "
                    + MAX_PROMPT_CHARS + " are allowed");
        }
        if (negativePrompt != null && negativePrompt.length() > MAX_PROMPT_CHARS) {
            throw new InvalidEventException("negativePrompt is " + negativePrompt.length()
                    + " characters, at most " + MAX_PROMPT_CHARS + " are allowed");
        }
        if (seed != null && seed < 0) {
            throw new InvalidEventException("seed must be >= 0, got " + seed);
        }
        if (fps != null && (fps < MIN_FPS || fps > MAX_FPS)) {
            throw new InvalidEventException("fps must be in " + MIN_FPS + ".." + MAX_FPS + ", got " + fps);
        }
        if (guidanceScale != null && (guidanceScale.isNaN() || guidanceScale < 1.0 || guidanceScale > 20.0)) {
            throw new InvalidEventException("guidanceScale must be in 1..20, got " + guidanceScale);
        }
        for (Map.Entry<String, Integer> e : steps.entrySet()) {
            if (!StageName.isStepsKey(e.getKey())) {
                throw new InvalidEventException("steps has an unknown stage " + quote(e.getKey())
                        + " (known: prior, decoder, interpolation, srLow, srHigh)");
            }
            if (e.getValue() == null || e.getValue() < 1 || e.getValue() > MAX_STEPS) {
                throw new InvalidEventException("steps." + e.getKey() + " must be in 1.." + MAX_STEPS
                        + ", got " + e.getValue());
            }
        }
        return this;
    }

    /**
     * This request with seed and fps filled in; the decoder's guidance scale and the steps stay the model's defaults
     * (its manifest's) when absent, so that new weights bring the settings they were evaluated with.
     */
    public PromptRequest withDefaults() {
        return new PromptRequest(jobId, prompt, negativePrompt,
                seed != null ? seed : seedFromJobId(jobId),
                fps != null ? fps : DEFAULT_FPS,
                guidanceScale,
                steps);
    }

    /** The decoder's guidance scale asked for, or {@code fallback} (the decoder manifest's) when none was. */
    public double guidanceScaleOr(double fallback) {
        return guidanceScale != null ? guidanceScale : fallback;
    }

    /** The step count asked for {@code stage}, or {@code fallback} (the model's default) when none was. */
    public int stepsFor(StageName stage, int fallback) {
        return steps.getOrDefault(stage.stepsKey(), fallback);
    }

    /** A stable seed, so that a job replayed without one samples the same video. */
    static long seedFromJobId(String jobId) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(jobId.getBytes(StandardCharsets.UTF_8));
            long s = 0;
            for (int i = 0; i < 7; i++) {
                s = (s << 8) | (h[i] & 0xff);
            }
            return s;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }

    private static String quote(String s) {
        return s == null ? "null" : "'" + (s.length() > 80 ? s.substring(0, 80) + "…" : s) + "'";
    }
}
