package mav.common.stage;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Readiness;
import org.eclipse.microprofile.health.Startup;

/**
 * Readiness: the models are loaded, the object store answers (the last probe's answer, so readiness never waits on
 * a frozen store) and the stage consumes (nothing holds it back: see {@link StageGate}); Kafka's readiness comes
 * from the messaging extension. Startup: the model load was attempted, so a model that cannot load shows up as not
 * ready with its reason instead of a restart loop.
 */
@ApplicationScoped
public class StageHealthChecks {

    @Inject
    StageRunner runner;
    @Inject
    MavConfig config;
    @Inject
    StageGate gate;

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
    HealthCheck consuming() {
        return () -> {
            String held = gate.reason();
            return HealthCheckResponse.named("consuming").status(held == null)
                    .withData("detail", held == null ? "taking records" : held)
                    .build();
        };
    }

    @Readiness
    HealthCheck objectStore() {
        return () -> HealthCheckResponse.named("object-store")
                .status(runner.storeReachable())
                .withData("endpoint", config.s3().endpoint())
                .withData("bucket", config.s3().bucket())
                .build();
    }

    @Startup
    HealthCheck modelLoadAttempted() {
        return () -> HealthCheckResponse.named("model-load").status(runner.loadAttempted()).build();
    }
}
