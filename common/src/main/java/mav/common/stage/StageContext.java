package mav.common.stage;

import java.util.concurrent.Callable;
import mav.common.event.SamplingSettings;
import mav.common.event.StageTiming;
import mav.common.event.StageEvent;
import mav.common.event.StatusEvent;
import mav.common.store.BlobNotFoundException;
import mav.common.tensor.NpyCodec;
import mav.common.tensor.Tensor;

/**
 * What a stage's model code sees of one job: its inputs in the object store, a place for its outputs, timed
 * phases and a way to report denoising progress.
 */
public final class StageContext {
    private final StageEvent input;
    private final String stage;
    private final JobStore store;
    private final StatusPublisher status;
    private final StageMetrics metrics;
    private final long startNanos = System.nanoTime();
    private long fetchNanos;
    private long inferenceNanos;
    private long storeNanos;
    private Integer steps;
    private Double guidanceScale;

    StageContext(StageEvent input, String stage, JobStore store, StatusPublisher status, StageMetrics metrics) {
        this.input = input;
        this.stage = stage;
        this.store = store;
        this.status = status;
        this.metrics = metrics;
    }

    /** Time spent per phase so far. */
    public record PhaseTimes(long fetchNanos, long inferenceNanos, long storeNanos) {
    }

    PhaseTimes phases() {
        return new PhaseTimes(fetchNanos, inferenceNanos, storeNanos);
    }

    /** This job's time in this stage so far, by phase; the last stage writes it into the video's metadata. */
    public StageTiming timingSoFar() {
        return new StageTiming(fetchNanos / 1_000_000, inferenceNanos / 1_000_000, storeNanos / 1_000_000,
                (System.nanoTime() - startNanos) / 1_000_000);
    }

    /** Records the step count this stage's sampler runs for the job. */
    void recordSteps(int steps) {
        this.steps = steps;
    }

    /** Records the classifier-free guidance scale this stage applies, so the job's record has it when defaulted. */
    public void recordGuidanceScale(double scale) {
        this.guidanceScale = scale;
    }

    /** The sampling settings applied so far; null if this stage has not sampled. */
    public SamplingSettings sampling() {
        return steps == null ? null : new SamplingSettings(steps, guidanceScale);
    }

    public String jobId() {
        return input.request().jobId();
    }

    /** The deterministic key of a file this stage writes for this job: {@code jobs/<job>/<stage>/<file>}. */
    public String jobKey(String file) {
        return jobKey(jobId(), stage, file);
    }

    static String jobKey(String jobId, String stage, String file) {
        return "jobs/" + jobId + "/" + stage + "/" + file;
    }

    /**
     * Reads the .npy artifact an earlier stage wrote under {@code artifact}, refusing it before it is decoded when
     * its header does not claim {@code expectedShape} (-1 accepts any size on an axis).
     */
    public Tensor fetchTensor(String artifact, long... expectedShape) {
        String key = input.artifact(artifact);
        long t0 = System.nanoTime();
        try {
            return NpyCodec.decode(store.get(key), expectedShape);
        } catch (BlobNotFoundException e) {
            throw new BlobNotFoundException(store.store().bucket(), key + " (artifact '" + artifact + "' of job " + jobId()
                    + ", needed by stage " + stage + ")");
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("artifact '" + artifact + "' at " + key + " refused: "
                    + e.getMessage(), e);
        } finally {
            fetchNanos += System.nanoTime() - t0;
        }
    }

    /** Writes {@code t} as .npy under {@link #jobKey(String)} and returns the key. */
    public String storeTensor(String file, Tensor t) {
        String key = jobKey(file);
        storeBytes(key, NpyCodec.encode(t), "application/octet-stream");
        return key;
    }

    public void storeBytes(String key, byte[] data, String contentType) {
        long t0 = System.nanoTime();
        try {
            store.put(key, data, contentType);
        } finally {
            storeNanos += System.nanoTime() - t0;
        }
    }

    /** Runs model work and counts its time as inference. */
    public <T> T infer(Callable<T> work) throws Exception {
        long t0 = System.nanoTime();
        try {
            return work.call();
        } finally {
            inferenceNanos += System.nanoTime() - t0;
        }
    }

    /**
     * Reports one finished denoising step (1-based) out of {@code total}; this step boundary is where a cancelled
     * job stops (a {@link JobCancelledException}, the store asked at most once a second).
     */
    public void progress(int step, int total) {
        metrics.step();
        store.checkCancelled(stage, System.nanoTime());
        status.publish(StatusEvent.progress(jobId(), stage, step, total));
    }
}
