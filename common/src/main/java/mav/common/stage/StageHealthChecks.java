package mav.common.stage;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.eclipse.microprofile.health.Startup;

/**
 * Readiness: the models are loaded and the object store answers (Kafka's readiness comes from the messaging
 * extension). Startup: the model load was attempted, so a model that cannot load shows up as not ready with its
 * reason instead of a restart loop.
 */
@ApplicationScoped
public class StageHealthChecks {

    @Inject
    StageRunner runner;
    @Inject
    MavConfig config;

    @Readiness
    HealthCheck models() {
        return () -> {
            String error = runner.modelError();
            return HealthCheckResponse.named("models").status(error == null)
                    .withData("stage", config.stage())
                    .withData("provider", config.ort().provider())
                    .withData("detail", error == null ? "loaded" : error)
                    .build();
        };
    }

    @Readiness
    HealthCheck objectStore() {
        return () -> HealthCheckResponse.named("object-store")
                .status(runner.store() != null && runner.store().isReachable())
                .withData("endpoint", config.s3().endpoint())
                .withData("bucket", config.s3().bucket())
                .build();
    }

    @Startup
    HealthCheck modelLoadAttempted() {
        return () -> HealthCheckResponse.named("model-load").status(runner.loadAttempted()).build();
    }
}
