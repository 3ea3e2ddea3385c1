package mav.common.stage;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

/**
 * Settings every stage service shares, under {@code mav.*}; each can be set from the environment, e.g.
 * {@code MAV_S3_ENDPOINT} for {@code mav.s3.endpoint}.
 */
@ConfigMapping(prefix = "mav")
public interface MavConfig {

    /** Which stage this service runs: prior, decoder, interpolation, sr-low or sr-high. */
    String stage();

    /** Prefix of every topic name, {@code mav.} by default. */
    @WithDefault("mav.")
    String topicPrefix();

    /** Jobs this service works on at once: the size of its inference worker pool. */
    @WithDefault("1")
    int workers();

    /** Longest a job may take in this stage; the consumer's stalled-record check allows that long. */
    @WithDefault("1800")
    int maxJobSeconds();

    S3 s3();

    Models models();

    Ort ort();

    interface S3 {
        @WithDefault("http://localhost:9000")
        String endpoint();

        @WithDefault("minioadmin")
        String accessKey();

        @WithDefault("minioadmin")
        String secretKey();

        @WithDefault("mav")
        String bucket();
    }

    interface Models {
        /** Root of the model repository, {@code <model>/<version>/model.onnx}. */
        @WithDefault("models")
        String dir();

        /** Version to load for every model of the stage: a number or "latest". */
        @WithDefault("latest")
        String version();
    }

    interface Ort {
        /** cpu, cuda or tensorrt. */
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
    }
}
