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

    private final BlobStore store;
    private final String jobId;
    private final long deadlineNanos;

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
