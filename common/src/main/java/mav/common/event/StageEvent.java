package mav.common.event;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The claim check passed from one stage to the next: the original request, the object keys of everything produced
 * so far, and the model versions and timings of every stage that ran. Maps accumulate stage by stage.
 *
 * @param request       the resolved request (defaults applied)
 * @param stage         the stage that wrote this event
 * @param artifacts     artifact name to object key, e.g. {@code keyframes -> jobs/j1/decoder/keyframes.npy}
 * @param modelVersions stage to model versions, e.g. {@code decoder -> decoder/1}
 * @param timings       stage to its timing
 */
public record StageEvent(
        PromptRequest request,
        StageName stage,
        Map<String, String> artifacts,
        Map<String, String> modelVersions,
        Map<StageName, StageTiming> timings) {

    public StageEvent {
        artifacts = artifacts == null ? Map.of() : Map.copyOf(artifacts);
        modelVersions = modelVersions == null ? Map.of() : Map.copyOf(modelVersions);
        timings = timings == null ? Map.of() : Map.copyOf(timings);
    }

    /** The event a stage publishes after this one: its artifacts, model versions and timing added. */
    public StageEvent next(StageName by, Map<String, String> newArtifacts, String modelVersion, StageTiming timing) {
        Map<String, String> a = new LinkedHashMap<>(artifacts);
        a.putAll(newArtifacts);
        Map<String, String> m = new LinkedHashMap<>(modelVersions);
        m.put(by.id(), modelVersion);
        Map<StageName, StageTiming> t = new LinkedHashMap<>(timings);
        t.put(by, timing);
        return new StageEvent(request, by, a, m, t);
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
