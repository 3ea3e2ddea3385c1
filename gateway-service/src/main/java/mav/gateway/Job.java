package mav.gateway;

import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import mav.common.event.PromptRequest;
import mav.common.event.StageName;
import mav.common.event.StatusEvent;
import mav.common.event.StatusEvent.State;

/**
 * One job as the status stream tells it: owner and request (from the gateway's queued record), each stage's
 * state, step and times, the failure. Mutated only by {@link JobIndex} under its lock; read through
 * {@link #view()} snapshots.
 */
final class Job {
    /** The status of the whole job, as the API names it. */
    enum Status {
        QUEUED, IN_PROGRESS, COMPLETED, FAILED, CANCELLED;

        String id() {
            return name().toLowerCase();
        }

        boolean terminal() {
            return this == COMPLETED || this == FAILED || this == CANCELLED;
        }
    }

    /** One stage of one job; times are the status events' timestamps. */
    record StageState(String state, Integer step, Integer totalSteps, Instant startedAt, Instant finishedAt,
            String message) {
        static final StageState PENDING = new StageState("pending", null, null, null, null, null);

        Long elapsedMs(Instant now) {
            if (startedAt == null) {
                return null;
            }
            return Duration.between(startedAt, finishedAt != null ? finishedAt : now).toMillis();
        }
    }

    final String id;
    String owner;
    PromptRequest request;
    String callbackUrl;
    Instant createdAt;
    Instant updatedAt;
    boolean deleted;
    /** When the job was cancelled (the gateway's request or a stage's stop), if it was before it ended. */
    Instant cancelledAt;
    long version;
    final Map<StageName, StageState> stages = new EnumMap<>(StageName.class);

    Job(String id) {
        this.id = id;
    }

    /**
     * Applies a stage's status; returns false when it changes nothing: events of stages this gateway does not know,
     * and a redelivered job's start in a stage that is already done (the stage republishes its output, the job
     * does not go back).
     */
    boolean apply(StatusEvent e) {
        Instant at = e.timestamp() != null ? e.timestamp() : Instant.now();
        boolean changed = false;
        if (createdAt == null || at.isBefore(createdAt)) {
            createdAt = at;
            changed = true;
        }
        if (e.state() == State.CANCELLED && cancelledAt == null && !status().terminal()) {
            // irrevocable from here: every stage checks the cancel marker before it starts the job
            cancelledAt = at;
            changed = true;
        }
        StageName stage;
        try {
            stage = StageName.fromId(e.stage());
        } catch (IllegalArgumentException unknown) {
            return bump(changed, at);
        }
        StageState s = stages.getOrDefault(stage, StageState.PENDING);
        if (e.state() == null || e.state() == State.QUEUED
                || (s.state().equals("done") && e.state() != State.FAILED)) {
            return bump(changed, at);
        }
        Instant started = s.startedAt() != null && !s.state().equals("failed") ? s.startedAt() : at;
        stages.put(stage, switch (e.state()) {
            case STARTED -> new StageState("running", null, null, started, null, null);
            case PROGRESS -> new StageState("running", e.step(), e.totalSteps(), started, null, null);
            case DONE -> new StageState("done", s.totalSteps(), s.totalSteps(), started, at, e.message());
            case FAILED -> new StageState("failed", s.step(), s.totalSteps(), started, at, e.message());
            case CANCELLED -> s.state().equals("failed") ? s
                    : new StageState("cancelled", s.step(), s.totalSteps(), started, at, e.message());
            case QUEUED -> s;
        });
        return bump(true, at);
    }

    private boolean bump(boolean changed, Instant at) {
        if (changed) {
            updatedAt = at;
            version++;
        }
        return changed;
    }

    Status status() {
        if (cancelledAt != null) {
            return Status.CANCELLED;
        }
        if (stage(StageName.SR_HIGH).state().equals("done")) {
            return Status.COMPLETED;
        }
        for (StageState s : stages.values()) {
            if (s.state().equals("failed")) {
                return Status.FAILED;
            }
        }
        return stages.isEmpty() ? Status.QUEUED : Status.IN_PROGRESS;
    }

    StageState stage(StageName name) {
        return stages.getOrDefault(name, StageState.PENDING);
    }

    /** 0–100: each of the five stages weighs a fifth, a running stage by its step of its total. */
    int progress() {
        if (status() == Status.COMPLETED) {
            return 100;
        }
        double sum = 0;
        for (StageName n : StageName.values()) {
            StageState s = stage(n);
            if (s.state().equals("done")) {
                sum += 1;
            } else if (s.step() != null && s.totalSteps() != null && s.totalSteps() > 0) {
                sum += Math.min(1.0, s.step() / (double) s.totalSteps());
            }
        }
        // 100 is for a completed job only: sr-high's last step is still followed by encoding and storing
        return Math.min(99, (int) Math.floor(sum * 100 / StageName.values().length));
    }

    /** The failed stage, or null. */
    StageName failedStage() {
        for (Map.Entry<StageName, StageState> e : stages.entrySet()) {
            if (e.getValue().state().equals("failed")) {
                return e.getKey();
            }
        }
        return null;
    }

    Instant finishedAt() {
        Status st = status();
        if (st == Status.COMPLETED) {
            return stage(StageName.SR_HIGH).finishedAt();
        }
        if (st == Status.CANCELLED) {
            return cancelledAt;
        }
        StageName f = failedStage();
        return f == null ? null : stage(f).finishedAt();
    }

    JobView view() {
        return new JobView(id, owner, request, createdAt, status(), progress(), new EnumMap<>(stages),
                failedStage(), finishedAt(), version, callbackUrl);
    }

    /** An immutable snapshot of a job. */
    record JobView(String id, String owner, PromptRequest request, Instant createdAt, Status status, int progress,
            Map<StageName, StageState> stages, StageName failedStage, Instant finishedAt, long version,
            String callbackUrl) {

        StageState stage(StageName name) {
            return stages.getOrDefault(name, StageState.PENDING);
        }
    }
}
