package mav.common.stage;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.ServerSocket;
import mav.common.store.BlobStore;
import mav.common.store.BlobStoreException;
import org.junit.jupiter.api.Test;

/**
 * The cancellation check's throttle, against a store that is not there: a call that reaches the store fails (the
 * job's deadline has passed, so at once), a call the throttle answers does not.
 */
class JobStoreTest {
    private static final long SECOND = 1_000_000_000L;

    private static JobStore unreachable() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        return new JobStore(BlobStore.connect("http://127.0.0.1:" + port, "k", "s", "mav"), "job-7",
                System.nanoTime() - SECOND);
    }

    @Test
    void theStoreIsAskedOnTheFirstCheckThenAtMostOnceASecond() throws Exception {
        JobStore store = unreachable();
        long t0 = 1_000 * SECOND;
        assertThrows(BlobStoreException.class, () -> store.checkCancelled("decoder", t0));
        assertDoesNotThrow(() -> store.checkCancelled("decoder", t0 + SECOND / 10));
        assertDoesNotThrow(() -> store.checkCancelled("decoder", t0 + SECOND - 1));
        assertThrows(BlobStoreException.class, () -> store.checkCancelled("decoder", t0 + SECOND));
        assertDoesNotThrow(() -> store.checkCancelled("decoder", t0 + SECOND + SECOND / 2));
    }

    @Test
    void theCheckBeforeACommitIsNotThrottled() throws Exception {
        JobStore store = unreachable();
        long t0 = 1_000 * SECOND;
        assertThrows(BlobStoreException.class, () -> store.checkCancelled("sr-high", t0));
        assertThrows(BlobStoreException.class, () -> store.checkCancelledNow("sr-high", t0 + 1));
    }

    @Test
    void theMarkerLivesUnderTheJobsPrefix() {
        assertEquals("jobs/job-7/cancelled", JobCancelledException.markerKey("job-7"));
        assertEquals("job job-7 was cancelled; stage decoder stopped (marker jobs/job-7/cancelled)",
                new JobCancelledException("job-7", "decoder").getMessage());
    }
}
