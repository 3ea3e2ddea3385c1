package mav.gateway;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;

/**
 * Ready once the status view has read the whole stream (before that, lists and 409 checks would be incomplete)
 * and the object store answers.
 */
@ApplicationScoped
public class GatewayHealth {
    @Inject
    JobIndex index;
    @Inject
    ObjectStore store;
    @Inject
    GatewayConfig config;

    @Readiness
    HealthCheck statusView() {
        return () -> HealthCheckResponse.named("status-view").status(index.caughtUp())
                .withData("jobs", index.size())
                .withData("detail", index.consumerError() != null ? index.consumerError()
                        : index.caughtUp() ? "caught up" : "reading " + config.topicPrefix() + "status")
                .build();
    }

    @Readiness
    HealthCheck objectStore() {
        return () -> HealthCheckResponse.named("object-store").status(store.blobs().isReachable())
                .withData("endpoint", config.s3().endpoint()).withData("bucket", config.s3().bucket()).build();
    }
}
