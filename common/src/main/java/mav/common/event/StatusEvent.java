package mav.common.event;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonValue;
import java.time.Instant;

/** Progress of one job in one stage, published to the status topic keyed by job id. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StatusEvent(
        String jobId,
        String stage,
        State state,
        Integer step,
        Integer totalSteps,
        String message,
        Instant timestamp) {

    public enum State {
        QUEUED, STARTED, PROGRESS, DONE, FAILED, CANCELLED;

        /** Whether the job ended in this stage: done, failed or cancelled. */
        public boolean terminal() {
            return this == DONE || this == FAILED || this == CANCELLED;
        }

        @JsonValue
        public String id() {
            return name().toLowerCase();
        }
    }

    public static StatusEvent of(String jobId, String stage, State state, String message) {
        return new StatusEvent(jobId, stage, state, null, null, message, Instant.now());
    }

    public static StatusEvent progress(String jobId, String stage, int step, int totalSteps) {
        return new StatusEvent(jobId, stage, State.PROGRESS, step, totalSteps, null, Instant.now());
    }
}
