package mav.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Per-key token buckets for submissions. Each replica keeps its own buckets, so behind N replicas a key may submit
 * up to N times the configured rate; the in-flight cap, which comes from the shared status stream, holds overall.
 */
@ApplicationScoped
public class RateLimiter {
    private final ConcurrentMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    @Inject
    GatewayConfig config;

    /** Takes one token for {@code key}; returns 0 when granted, else the whole seconds until one is available. */
    public long tryAcquire(String key) {
        GatewayConfig.Gateway g = config.gateway();
        return buckets.computeIfAbsent(key, k -> new Bucket(g.submissionBurst(), g.submissionsPerMinute() / 60.0))
                .tryAcquire(System.nanoTime());
    }

    private static final class Bucket {
        private final int capacity;
        private final double perSecond;
        private double tokens;
        private long last;

        Bucket(int capacity, double perSecond) {
            this.capacity = capacity;
            this.perSecond = perSecond;
            this.tokens = capacity;
            this.last = System.nanoTime();
        }

        synchronized long tryAcquire(long now) {
            tokens = Math.min(capacity, tokens + (now - last) / 1e9 * perSecond);
            last = now;
            if (tokens >= 1) {
                tokens -= 1;
                return 0;
            }
            return Math.max(1, (long) Math.ceil((1 - tokens) / perSecond));
        }
    }
}
