package mav.common.store;

import io.smallrye.config.WithDefault;

/**
 * The {@code mav.s3.*} settings group of the stages and the gateway alike, so one environment points every service
 * at the same store; each can be set from the environment, e.g. {@code MAV_S3_ENDPOINT}.
 */
public interface S3Settings {
    @WithDefault("http://localhost:9000")
    String endpoint();

    @WithDefault("minioadmin")
    String accessKey();

    @WithDefault("minioadmin")
    String secretKey();

    @WithDefault("mav")
    String bucket();
}
