package mav.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import mav.common.event.PromptRequest;
import mav.common.event.StageName;

/** The job object of the API, as {@code GET /v1/videos/{id}}, the list and the event stream show it. */
final class JobJson {
    private JobJson() {
    }

    static Map<String, Object> of(Job.JobView v, JsonNode metadata) {
        Instant now = Instant.now();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", v.id());
        m.put("object", "video");
        m.put("status", v.status().id());
        m.put("progress", v.progress());
        m.put("created_at", v.createdAt());
        m.put("completed_at", v.status() == Job.Status.COMPLETED ? v.finishedAt() : null);
        m.put("cancelled_at", v.status() == Job.Status.CANCELLED ? v.finishedAt() : null);
        PromptRequest r = v.request();
        if (r != null) {
            m.put("prompt", r.prompt());
            m.put("negative_prompt", r.negativePrompt());
            m.put("seed", r.seed());
            m.put("fps", r.fps());
            m.put("guidance_scale", r.guidanceScale());
            m.put("steps", r.steps());
        }
        List<Map<String, Object>> stages = new ArrayList<>();
        for (StageName n : StageName.values()) {
            Job.StageState s = v.stage(n);
            Map<String, Object> st = new LinkedHashMap<>();
            st.put("stage", n.id());
            st.put("state", s.state());
            st.put("step", s.step());
            st.put("total_steps", s.totalSteps());
            st.put("started_at", s.startedAt());
            st.put("finished_at", s.finishedAt());
            st.put("elapsed_ms", s.elapsedMs(now));
            stages.add(st);
        }
        m.put("stages", stages);
        if (v.failedStage() != null) {
            m.put("error", Map.of("stage", v.failedStage().id(),
                    "message", String.valueOf(v.stage(v.failedStage()).message())));
        } else {
            m.put("error", null);
        }
        m.put("metadata", metadata);
        String self = "/v1/videos/" + v.id();
        m.put("links", Map.of("self", self, "content", self + "/content?variant=video",
                "thumbnail", self + "/content?variant=thumbnail", "events", self + "/events"));
        return m;
    }
}
