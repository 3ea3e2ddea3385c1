package mav.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import mav.common.event.StageName;
import mav.common.event.StatusEvent;
import mav.common.event.StatusEvent.State;
import org.junit.jupiter.api.Test;

/** How status events fold into a job: states, progress, failure and redelivery. */
class JobTest {
    private static final Instant T0 = Instant.parse("2026-12-06T12:00:00Z");

    private static StatusEvent at(int second, StageName stage, State state, Integer step, Integer total, String msg) {
        return new StatusEvent("j", stage.id(), state, step, total, msg, T0.plusSeconds(second));
    }

    @Test
    void aJobIsQueuedUntilAStageStartsAndEachStageWeighsAFifthOfTheProgress() {
        Job job = new Job("j");
        assertTrue(job.apply(new StatusEvent("j", "prior", State.QUEUED, null, null, "submitted", T0)));
        assertEquals(Job.Status.QUEUED, job.status());
        job.apply(at(1, StageName.PRIOR, State.STARTED, null, null, null));
        job.apply(at(2, StageName.PRIOR, State.PROGRESS, 5, 10, null));
        assertEquals(Job.Status.IN_PROGRESS, job.status());
        assertEquals(10, job.progress());
        job.apply(at(3, StageName.PRIOR, State.DONE, null, null, null));
        job.apply(at(4, StageName.DECODER, State.PROGRESS, 1, 4, null));
        assertEquals(25, job.progress());
        assertEquals(2000, job.stage(StageName.PRIOR).elapsedMs(T0.plusSeconds(99)));
        assertEquals(T0, job.createdAt);
    }

    @Test
    void aRedeliveredStartInADoneStageChangesNothing() {
        Job job = new Job("j");
        job.apply(at(1, StageName.PRIOR, State.STARTED, null, null, null));
        job.apply(at(2, StageName.PRIOR, State.DONE, null, null, null));
        long version = job.version;
        assertFalse(job.apply(at(5, StageName.PRIOR, State.STARTED, null, null, null)));
        assertFalse(job.apply(at(6, StageName.PRIOR, State.DONE, null, null, "already done; output republished")));
        assertEquals(version, job.version);
        assertEquals("done", job.stage(StageName.PRIOR).state());
        assertEquals(T0.plusSeconds(2), job.stage(StageName.PRIOR).finishedAt());
    }

    @Test
    void aFailedStageFailsTheJobWithItsReasonAndSrHighDoneCompletesIt() {
        Job failed = new Job("j");
        failed.apply(at(1, StageName.DECODER, State.STARTED, null, null, null));
        failed.apply(at(2, StageName.DECODER, State.FAILED, null, null, "missing blob"));
        assertEquals(Job.Status.FAILED, failed.status());
        assertEquals(StageName.DECODER, failed.failedStage());
        assertEquals("missing blob", failed.stage(StageName.DECODER).message());

        Job done = new Job("k");
        done.apply(at(1, StageName.SR_HIGH, State.DONE, null, null, null));
        assertEquals(Job.Status.COMPLETED, done.status());
        assertEquals(100, done.progress());
        assertNull(done.failedStage());
    }

    @Test
    void statusesOfStagesTheGatewayDoesNotKnowAreIgnored() {
        Job job = new Job("j");
        job.apply(new StatusEvent("j", "gateway", State.DONE, null, null, "deleted", T0));
        assertEquals(Job.Status.QUEUED, job.status());
        assertTrue(job.stages.isEmpty());
    }

    @Test
    void aCancelRequestEndsAJobInFlightAndWhatTheStagesSayAfterwardsDoesNotRevive() {
        Job job = new Job("j");
        job.apply(at(1, StageName.PRIOR, State.DONE, null, null, null));
        job.apply(at(2, StageName.DECODER, State.PROGRESS, 1, 4, null));
        assertTrue(job.apply(new StatusEvent("j", "gateway", State.CANCELLED, null, null, "cancelled", T0
                .plusSeconds(3))));
        assertEquals(Job.Status.CANCELLED, job.status());
        assertTrue(job.status().terminal());
        assertEquals(T0.plusSeconds(3), job.finishedAt());
        job.apply(at(4, StageName.DECODER, State.CANCELLED, null, null, "stopped"));
        assertEquals("cancelled", job.stage(StageName.DECODER).state());
        assertEquals(1, job.stage(StageName.DECODER).step());
        // a stage that finished the job before it saw the marker does not complete it
        job.apply(at(5, StageName.SR_HIGH, State.DONE, null, null, null));
        assertEquals(Job.Status.CANCELLED, job.status());
        assertEquals(T0.plusSeconds(3), job.finishedAt());
    }

    @Test
    void aCancelOfAJobThatHadEndedChangesNothing() {
        Job done = new Job("j");
        done.apply(at(1, StageName.SR_HIGH, State.DONE, null, null, null));
        done.apply(new StatusEvent("j", "gateway", State.CANCELLED, null, null, "cancelled", T0.plusSeconds(2)));
        assertEquals(Job.Status.COMPLETED, done.status());
        Job failed = new Job("k");
        failed.apply(at(1, StageName.DECODER, State.FAILED, null, null, "missing blob"));
        failed.apply(at(2, StageName.DECODER, State.CANCELLED, null, null, "stopped"));
        assertEquals(Job.Status.FAILED, failed.status());
    }

    @Test
    void aStageThatStopsOnTheMarkerCancelsTheJobOnItsOwn() {
        // a marker written by another client than the gateway: the stage's own record says it all
        Job job = new Job("j");
        job.apply(at(1, StageName.PRIOR, State.CANCELLED, null, null, "stopped"));
        assertEquals(Job.Status.CANCELLED, job.status());
    }
}
