package mav.common.stage;

import java.util.function.Supplier;
import java.util.logging.Logger;
import mav.common.store.BlobStore;
import mav.common.store.BlobStoreException;

/**
 * The object store as one job sees it: a call that fails in a way that may pass (server unreachable, timeout, 5xx)
 * is retried with backoff and jitter until the job's deadline ({@code mav.max-job-seconds} after it was taken);
 * any other failure, or the deadline, ends the job.
 */
final class JobStore {
    private static final Logger LOG = Logger.getLogger(JobStore.class.getName());
    static final Retry BACKOFF = new Retry(250, 10_000);
    /** Cancellation is looked up at most this often per job, so that it never costs the model calls anything. */
    static final long CANCEL_CHECK_INTERVAL_NANOS = 1_000_000_000L;

    private final BlobStore store;
    private final String jobId;
    private final long deadlineNanos;
    private long lastCancelCheck;
    private boolean cancelChecked;

    JobStore(BlobStore store, String jobId, long deadlineNanos) {
        this.store = store;
        this.jobId = jobId;
        this.deadlineNanos = deadlineNanos;
    }

    BlobStore store() {
        return store;
    }

    byte[] get(String key) {
        return call(() -> store.get(key));
    }

    boolean exists(String key) {
        return call(() -> store.exists(key));
    }

    void put(String key, byte[] data, String contentType) {
        call(() -> {
            store.put(key, data, contentType);
            return null;
        });
    }

    /**
     * Throws {@link JobCancelledException} when the job's cancel marker exists; asks the store on the first call and
     * then at most once per {@link #CANCEL_CHECK_INTERVAL_NANOS}.
     */
    void checkCancelled(String stage, long nowNanos) {
        if (cancelChecked && nowNanos - lastCancelCheck < CANCEL_CHECK_INTERVAL_NANOS) {
            return;
        }
        checkCancelledNow(stage, nowNanos);
    }

    /** {@link #checkCancelled} without the throttle: before a stage commits its output. */
    void checkCancelledNow(String stage, long nowNanos) {
        cancelChecked = true;
        lastCancelCheck = nowNanos;
        if (exists(JobCancelledException.markerKey(jobId))) {
            throw new JobCancelledException(jobId, stage);
        }
    }

    private <T> T call(Supplier<T> op) {
        return BACKOFF.call(op, e -> e instanceof BlobStoreException b && b.retryable(), deadlineNanos,
                (e, attempt, wait) -> {
                    if (attempt == 1 || attempt % 10 == 0) {
                        LOG.warning("job " + jobId + ": " + e.getMessage() + "; retry " + attempt + " in " + wait
                                + " ms (until the job's deadline)");
                    }
                });
    }
}
