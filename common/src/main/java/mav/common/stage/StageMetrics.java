package mav.common.stage;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The per-stage Prometheus metrics: jobs received, completed and failed, the time spent per phase (fetch,
 * inference, store) and per job, denoising steps (whose rate is steps per second) and jobs in flight.
 */
public final class StageMetrics {
    /** Why a job failed, as the {@code reason} tag of the failed-jobs counter. */
    enum FailureReason {
        INVALID_EVENT, MISSING_BLOB, OBJECT_STORE, MODEL_NOT_LOADED, INVALID_INPUT, OUT_OF_MEMORY, INTERNAL;

        String tag() {
            return name().toLowerCase();
        }
    }
    private final MeterRegistry registry;
    private final String stage;
    private final Counter received;
    private final Counter completed;
    private final Counter cancelled;
    private final Counter steps;
    private final Timer job;
    private final Timer fetch;
    private final Timer inference;
    private final Timer store;
    private final AtomicInteger inFlight = new AtomicInteger();

    public StageMetrics(MeterRegistry registry, String stage) {
        this.registry = registry;
        this.stage = stage;
        received = Counter.builder("mav.stage.jobs.received").tag("stage", stage)
                .description("jobs taken from the input topic").register(registry);
        completed = Counter.builder("mav.stage.jobs.completed").tag("stage", stage)
                .description("jobs whose output event was published").register(registry);
        cancelled = Counter.builder("mav.stage.jobs.cancelled").tag("stage", stage)
                .description("jobs stopped by their cancel marker, with no output").register(registry);
        steps = Counter.builder("mav.stage.denoising.steps").tag("stage", stage)
                .description("denoising steps run; its rate is steps per second").register(registry);
        job = histogram("mav.stage.job", null);
        fetch = histogram("mav.stage.phase", "fetch");
        inference = histogram("mav.stage.phase", "inference");
        store = histogram("mav.stage.phase", "store");
        // every failure reason exists from the start, so rates and alerts read 0 rather than "no data"
        for (FailureReason reason : FailureReason.values()) {
            failedCounter(reason);
        }
        registry.gauge("mav.stage.in.flight", java.util.List.of(io.micrometer.core.instrument.Tag.of("stage", stage)),
                inFlight);
    }

    private Timer histogram(String name, String phase) {
        Timer.Builder b = Timer.builder(name).tag("stage", stage).publishPercentileHistogram()
                .minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofMinutes(30));
        if (phase != null) {
            b.tag("phase", phase);
        }
        return b.register(registry);
    }

    /** A record was taken; {@link #finished()} must follow on every path. */
    void received() {
        received.increment();
        inFlight.incrementAndGet();
    }

    void finished() {
        inFlight.decrementAndGet();
    }

    int inFlight() {
        return inFlight.get();
    }

    void completed(long nanos, StageContext.PhaseTimes phases) {
        completed.increment();
        job.record(Duration.ofNanos(nanos));
        fetch.record(Duration.ofNanos(phases.fetchNanos()));
        inference.record(Duration.ofNanos(phases.inferenceNanos()));
        store.record(Duration.ofNanos(phases.storeNanos()));
    }

    void cancelled() {
        cancelled.increment();
    }

    void failed(FailureReason reason) {
        failedCounter(reason).increment();
    }

    private Counter failedCounter(FailureReason reason) {
        return Counter.builder("mav.stage.jobs.failed").tag("stage", stage).tag("reason", reason.tag())
                .description("jobs that ended in a failed status").register(registry);
    }

    void step() {
        steps.increment();
    }
}
