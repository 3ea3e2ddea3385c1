package mav.common.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class RetryTest {
    private final Retry retry = new Retry(10, 40);

    @Test
    void aTransientFailureIsRetriedWithGrowingJitteredWaitsUntilItPasses() {
        AtomicInteger calls = new AtomicInteger();
        List<Long> waits = new ArrayList<>();
        String result = retry.call(() -> {
            if (calls.incrementAndGet() < 5) {
                throw new IllegalStateException("down");
            }
            return "up";
        }, e -> true, System.nanoTime() + TimeUnit.SECONDS.toNanos(10), (e, attempt, wait) -> waits.add(wait));
        assertEquals("up", result);
        assertEquals(4, waits.size());
        long[] steps = {10, 20, 40, 40};
        for (int i = 0; i < waits.size(); i++) {
            assertTrue(waits.get(i) >= steps[i] / 2 && waits.get(i) <= steps[i], "wait " + i + ": " + waits);
        }
    }

    @Test
    void aJitteredWaitLiesBetweenHalfAndAllOfItsStepAndVaries() {
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            long wait = Retry.jittered(1000);
            assertTrue(wait >= 500 && wait <= 1000, "wait " + wait);
            seen.add(wait);
        }
        assertTrue(seen.size() > 100, "only " + seen.size() + " distinct waits in 1000");
    }

    @Test
    void aFailureThatARetryCannotFixIsThrownAtOnce() {
        AtomicInteger calls = new AtomicInteger();
        IllegalArgumentException bad = new IllegalArgumentException("denied");
        var e = assertThrows(IllegalArgumentException.class, () -> retry.call(() -> {
            calls.incrementAndGet();
            throw bad;
        }, x -> !(x instanceof IllegalArgumentException), Long.MAX_VALUE, (x, a, w) -> { }));
        assertSame(bad, e);
        assertEquals(1, calls.get());
    }

    @Test
    void retriesStopAtTheDeadline() {
        long t0 = System.nanoTime();
        assertThrows(IllegalStateException.class, () -> retry.call(() -> {
            throw new IllegalStateException("still down");
        }, e -> true, t0 + TimeUnit.MILLISECONDS.toNanos(200), (e, a, w) -> { }));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms <= 300, "gave up after " + ms + " ms");
    }
}
