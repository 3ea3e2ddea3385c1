package mav.common.stage;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import mav.common.store.S3Settings;

/**
 * Settings every stage service shares, under {@code mav.*}; each can be set from the environment, e.g.
 * {@code MAV_S3_ENDPOINT} for {@code mav.s3.endpoint}.
 */
@ConfigMapping(prefix = "mav")
public interface MavConfig {

    /** Which stage this service runs: prior, decoder, interpolation, sr-low or sr-high. */
    String stage();

    /** The topic this stage's results go to: the next stage's input, or the videos topic after the last one. */
    String outputTopic();

    /** Prefix of every topic name, {@code mav.} by default. */
    @WithDefault("mav.")
    String topicPrefix();

    /** Jobs this service works on at once: the size of its inference worker pool. */
    @WithDefault("1")
    int workers();

    /**
     * Longest a job may take in this stage, retries of an unreachable object store included; past it the job
     * fails.
     */
    @WithDefault("1800")
    int maxJobSeconds();

    /** On SIGTERM, how long the job in flight may still run; below the grace period before SIGKILL. */
    @WithDefault("90")
    int drainSeconds();

    /**
     * Largest input record (key and value) a stage accepts; larger ones fail before they are parsed. Far below
     * Kafka's 1 MiB {@code max.request.size}, so that a dead letter carrying the record always fits.
     */
    @WithDefault("262144")
    int maxRecordBytes();

    /**
     * Continuous batching: at most this many of the jobs in flight ({@code mav.workers}) share one model call per
     * denoising step; 1 = every job calls alone.
     */
    @WithDefault("1")
    int maxBatch();

    /** How long a job's step waits for the other jobs in flight to reach theirs before the call runs without them. */
    @WithDefault("1000")
    long batchWaitMs();

    S3Settings s3();

    Models models();

    Ort ort();

    interface Models {
        /** Root of the model repository, {@code <model>/<version>/model.onnx}. */
        @WithDefault("models")
        String dir();

        /** Version to load for every model of the stage: a number or "latest". */
        @WithDefault("latest")
        String version();
    }

    interface Ort {
        /** cpu or cuda. */
        @WithDefault("cpu")
        String provider();

        /** Run on CPU when the GPU provider cannot load, instead of staying unready. */
        @WithDefault("false")
        boolean fallbackCpu();

        /** Intra-op threads per session; 0 leaves ONNX Runtime's default (one per core). */
        @WithDefault("0")
        int threads();

        /** One call on zero inputs of the working shapes before the service is ready (see OnnxModel#warmUp). */
        @WithDefault("true")
        boolean warmUp();

        /**
         * Whether idle intra-op threads spin (ONNX Runtime's default) or sleep at once. Off: on shared cores (the local
         * stack's five services, a pod's CPU quota) spinning threads burn the time the working ones need
         * (docs/performance.md).
         */
        @WithDefault("false")
        boolean spinning();
    }
}
