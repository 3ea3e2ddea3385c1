package mav.local;

import java.time.Duration;
import mav.common.event.StageEvent;
import mav.common.event.StatusEvent;

/** Waits for one job's final event on the videos topic or a failed or cancelled status, drawing its progress meanwhile. */
final class JobWaiter {
    /** How the job ended: the final event, or the stage and reason it failed (or was cancelled) with. */
    record Outcome(StageEvent video, String failedStage, String reason) {
        boolean ok() {
            return video != null;
        }
    }

    static Outcome await(StatusWatcher watcher, String jobId, ProgressView view, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Outcome[] result = new Outcome[1];
        StatusWatcher.Listener l = new StatusWatcher.Listener() {
            @Override
            public void status(StatusEvent s) {
                if (!jobId.equals(s.jobId())) {
                    return;
                }
                view.update(s);
                if ((s.state() == StatusEvent.State.FAILED || s.state() == StatusEvent.State.CANCELLED)
                        && result[0] == null) {
                    result[0] = new Outcome(null, s.stage(), s.message());
                }
            }

            @Override
            public void video(String job, StageEvent e, String json) {
                if (jobId.equals(job) && result[0] == null) {
                    result[0] = new Outcome(e, null, null);
                }
            }
        };
        while (result[0] == null) {
            if (System.nanoTime() > deadline) {
                view.draw();
                return new Outcome(null, null, "no result within " + timeout.toSeconds()
                        + " s (is every stage service up? see ./mav top and the logs under .mav/logs)");
            }
            watcher.poll(Duration.ofMillis(200), l);
            view.draw();
        }
        // a short grace for the last statuses, so the final bars show done
        long until = System.nanoTime() + 300_000_000L;
        while (System.nanoTime() < until) {
            watcher.poll(Duration.ofMillis(100), l);
        }
        view.draw();
        return result[0];
    }
}
