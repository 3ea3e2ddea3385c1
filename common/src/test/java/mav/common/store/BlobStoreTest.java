package mav.common.store;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.EOFException;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import org.junit.jupiter.api.Test;

class BlobStoreTest {

    @Test
    void networkFailuresMayPassButAnythingElseIsFinal() {
        assertTrue(BlobStore.isRetryable(new ConnectException("Connection refused")));
        assertTrue(BlobStore.isRetryable(new EOFException("mid-write")));
        assertTrue(BlobStore.isRetryable(new SocketTimeoutException("read timed out")));
        assertTrue(BlobStore.isRetryable(new java.util.concurrent.CompletionException(new ConnectException("refused"))));
        assertFalse(BlobStore.isRetryable(new IllegalArgumentException("bad key")));
    }

    @Test
    void aStoreThatIsNotThereIsReportedUnreachableWithinASecondAndItsCallsAsRetryable() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        BlobStore store = BlobStore.connect("http://127.0.0.1:" + port, "k", "s", "mav");
        store.isReachable(); // the first call also loads the client's classes
        long t0 = System.nanoTime();
        assertFalse(store.isReachable());
        assertTrue(System.nanoTime() - t0 < 1_000_000_000L, "the probe took " + (System.nanoTime() - t0) / 1e6 + " ms");
        var e = org.junit.jupiter.api.Assertions.assertThrows(BlobStoreException.class, () -> store.get("jobs/j/x"));
        assertTrue(e.retryable(), e.getMessage());
    }

    @Test
    void aFrozenStoreStillGetsAnAnswerFromTheProbeWithinASecond() throws Exception {
        // accepts connections and never answers, as a SIGSTOPped server does
        try (ServerSocket frozen = new ServerSocket(0, 50)) {
            BlobStore store = BlobStore.connect("http://127.0.0.1:" + frozen.getLocalPort(), "k", "s", "mav");
            store.isReachable(); // the first call also loads the client's classes
            long t0 = System.nanoTime();
            assertFalse(store.isReachable());
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 1000, "the probe took " + ms + " ms");
        }
    }
}
