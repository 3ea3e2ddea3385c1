package mav.common.stage;

import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Exponential backoff with jitter (a random wait between half and all of the current step, which doubles from
 * {@code first} up to {@code max}), until a deadline: so that replicas retrying the same outage do not hit the
 * recovering server in step, and a job never retries past the time it may take.
 */
public final class Retry {
    private final long firstMillis;
    private final long maxMillis;

    public Retry(long firstMillis, long maxMillis) {
        if (firstMillis <= 0 || maxMillis < firstMillis) {
            throw new IllegalArgumentException("backoff needs 0 < first <= max, got " + firstMillis + ", " + maxMillis);
        }
        this.firstMillis = firstMillis;
        this.maxMillis = maxMillis;
    }

    /** A random wait in [step/2, step]: the jitter of every backoff of the stages. */
    public static long jittered(long stepMillis) {
        return ThreadLocalRandom.current().nextLong(stepMillis / 2, stepMillis + 1);
    }

    /** Told before each wait: the failure, the attempt it ended (1-based) and the wait that follows. */
    public interface Listener {
        void retrying(RuntimeException failure, int attempt, long waitMillis);
    }

    /**
     * Runs {@code call} until it succeeds, a failure that {@code retryable} rejects, or {@code deadlineNanos}
     * (a {@link System#nanoTime()} value) would pass during the next wait; then rethrows the last failure.
     */
    public <T> T call(Supplier<T> call, Predicate<RuntimeException> retryable, long deadlineNanos, Listener listener) {
        long step = firstMillis;
        for (int attempt = 1;; attempt++) {
            try {
                return call.get();
            } catch (RuntimeException e) {
                if (!retryable.test(e)) {
                    throw e;
                }
                long wait = jittered(step);
                if (System.nanoTime() + wait * 1_000_000L > deadlineNanos) {
                    throw e;
                }
                listener.retrying(e, attempt, wait);
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
                step = Math.min(maxMillis, step * 2);
            }
        }
    }
}
