package mav.common.event;

import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The claim check passed from one stage to the next: the original request, the object keys of everything produced
 * so far, and the model versions and timings of every stage that ran. Maps accumulate stage by stage.
 *
 * @param request       the resolved request (defaults applied)
 * @param stage         the stage that wrote this event
 * @param artifacts     artifact name to object key, e.g. {@code keyframes -> jobs/j1/decoder/keyframes.npy}
 * @param modelVersions stage to model versions, e.g. {@code decoder -> decoder/1}
 * @param timings       stage to its timing
 * @param sampling      stage to the steps and guidance its sampler applied
 */
public record StageEvent(
        PromptRequest request,
        StageName stage,
        Map<String, String> artifacts,
        Map<String, String> modelVersions,
        Map<StageName, StageTiming> timings,
        Map<StageName, SamplingSettings> sampling) {

    /** {@code <stage>/<file>} below a job's prefix: plain segments, no {@code .}, {@code ..} or empty ones. */
    private static final Pattern ARTIFACT_PATH = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    public StageEvent {
        artifacts = artifacts == null ? Map.of() : Map.copyOf(artifacts);
        modelVersions = modelVersions == null ? Map.of() : Map.copyOf(modelVersions);
        timings = inPipelineOrder(timings);
        sampling = inPipelineOrder(sampling);
    }

    /** Stage-keyed maps iterate (and serialise) in pipeline order, so a job's record reads prior first. */
    private static <V> Map<StageName, V> inPipelineOrder(Map<StageName, V> byStage) {
        if (byStage == null || byStage.isEmpty()) {
            return Map.of();
        }
        return Collections.unmodifiableMap(new EnumMap<>(byStage));
    }

    /** The first event of a job: its request, before any stage ran. */
    public static StageEvent start(PromptRequest request) {
        return new StageEvent(request, null, Map.of(), Map.of(), Map.of(), Map.of());
    }

    /**
     * The event a stage publishes after this one: its artifacts, model version, timing and sampling settings (null
     * for a stage that did not sample) added.
     */
    public StageEvent next(StageName by, Map<String, String> newArtifacts, String modelVersion, StageTiming timing,
            SamplingSettings applied) {
        Map<String, String> a = new LinkedHashMap<>(artifacts);
        a.putAll(newArtifacts);
        Map<String, String> m = new LinkedHashMap<>(modelVersions);
        m.put(by.id(), modelVersion);
        Map<StageName, StageTiming> t = new LinkedHashMap<>(timings);
        t.put(by, timing);
        Map<StageName, SamplingSettings> s = new LinkedHashMap<>(sampling);
        if (applied != null) {
            s.put(by, applied);
        }
        return new StageEvent(request, by, a, m, t, s);
    }

    /**
     * Checks that every artifact lies under {@code jobs/<its job>/}, so that an event can never make a stage read
     * another job's objects (or anything else in the bucket); called before any fetch.
     *
     * @throws InvalidEventException naming the first artifact whose key is elsewhere
     */
    public StageEvent requireArtifactsOfItsJob() {
        String prefix = "jobs/" + request.jobId() + "/";
        for (Map.Entry<String, String> a : artifacts.entrySet()) {
            String key = a.getValue();
            if (key == null || !key.startsWith(prefix) || !ARTIFACT_PATH.matcher(key.substring(prefix.length())).matches()) {
                throw new InvalidEventException("job " + request.jobId() + ": artifact '" + a.getKey() + "' has key "
                        + (key == null ? "null" : "'" + (key.length() > 120 ? key.substring(0, 120) + "…" : key) + "'")
                        + ", which is not under " + prefix + "<stage>/<file>");
            }
        }
        return this;
    }

    /** The key of artifact {@code name}, which an earlier stage must have written. */
    public String artifact(String name) {
        String key = artifacts.get(name);
        if (key == null) {
            throw new InvalidEventException("job " + request.jobId() + ": event from stage "
                    + (stage == null ? "?" : stage.id()) + " has no artifact '" + name + "' (has " + artifacts.keySet() + ")");
        }
        return key;
    }
}
