package mav.gateway;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import mav.common.store.S3Settings;

/**
 * The gateway's settings under {@code mav.*} (the stages' names for topics and S3, so one environment serves all);
 * each can be set from the environment, e.g. {@code MAV_GATEWAY_API_KEYS} for {@code mav.gateway.api-keys}.
 */
@ConfigMapping(prefix = "mav")
public interface GatewayConfig {

    /** Prefix of every topic name, {@code mav.} by default. */
    @WithDefault("mav.")
    String topicPrefix();

    S3 s3();

    Gateway gateway();

    /** The stages' {@code mav.s3.*}, and where clients reach the store. */
    interface S3 extends S3Settings {
        /** Host that clients reach S3 at, for presigned URLs; the endpoint above when absent. */
        Optional<String> presignEndpoint();
    }

    interface Gateway {
        /** Bearer API keys; when none are set every /v1 call is anonymous and sees every job. */
        Optional<List<String>> apiKeys();

        /** Submissions a key may make per minute (token bucket refill rate). */
        @WithDefault("30")
        int submissionsPerMinute();

        /** Submissions a key may make at once before the per-minute rate applies. */
        @WithDefault("10")
        int submissionBurst();

        /** Jobs a key may have queued or in progress at once. */
        @WithDefault("8")
        int maxInFlight();

        /** How long a presigned content URL stays valid. */
        @WithDefault("15M")
        Duration presignExpiry();

        /** How far back the per-stage throughput and latency of GET /v1/stages look. */
        @WithDefault("15M")
        Duration statsWindow();

        /** Signs the callbacks of jobs made without an API key (an open gateway); keyed jobs are signed with their key. */
        Optional<String> callbackSecret();

        /** Whether callback URLs may point at loopback, private and link-local addresses (a developer's machine). */
        @WithDefault("false")
        boolean callbackAllowPrivate();

        /** Tries per callback before it is given up. */
        @WithDefault("6")
        int callbackAttempts();

        /** Wait before the first retry of a callback; each further one doubles it (up to a minute), with jitter. */
        @WithDefault("1S")
        Duration callbackFirstRetry();
    }
}
