package mav.common.stage;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.reactive.messaging.ChannelRegistry;
import io.smallrye.reactive.messaging.PausableChannel;
import io.smallrye.reactive.messaging.kafka.Record;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import mav.common.event.EventCodec;
import mav.common.event.InvalidEventException;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.event.StatusEvent;
import mav.common.event.StatusEvent.State;
import mav.common.onnx.ExecutionProvider;
import mav.common.onnx.ModelLoadException;
import mav.common.onnx.ModelRepository;
import mav.common.onnx.OrtSettings;
import mav.common.store.BlobNotFoundException;
import mav.common.store.BlobStore;
import mav.common.store.BlobStoreException;

/**
 * Runs one job through this service's {@link PipelineStage}: parse and check the event, skip work already done,
 * run the models, write the outputs, publish status and metrics. Any failure becomes a failed status with the
 * reason and is rethrown, so the connector nacks the record into the dead-letter topic and goes on consuming.
 *
 * <p>The input channel starts paused and resumes only once the models are loaded, so a service whose model cannot
 * load (a GPU provider that is missing, say) consumes nothing and reports why in its readiness check.
 */
@ApplicationScoped
public class StageRunner {
    private static final Logger LOG = Logger.getLogger(StageRunner.class.getName());
    static final String INPUT_CHANNEL = "in";
    /** Below the grace periods before SIGKILL: 15 s in the local launcher, 30 s by default on Kubernetes. */
    private static final int LOAD_SHUTDOWN_WAIT_SECONDS = 10;

    @Inject
    PipelineStage stage;
    @Inject
    MavConfig config;
    @Inject
    StatusPublisher status;
    @Inject
    MeterRegistry registry;
    @Inject
    ChannelRegistry channels;

    private BlobStore store;
    private StageMetrics metrics;
    private final ExecutorService loader = Executors.newSingleThreadExecutor(r -> new Thread(r, "model-loader"));
    private volatile boolean loadAttempted;
    private volatile String modelError = "models are loading";

    void onStart(@Observes StartupEvent event) {
        StageName expected = StageName.fromId(config.stage());
        if (expected != stage.name()) {
            throw new IllegalStateException("mav.stage is " + config.stage() + " but this service runs "
                    + stage.name().id());
        }
        store = BlobStore.connect(config.s3().endpoint(), config.s3().accessKey(), config.s3().secretKey(),
                config.s3().bucket());
        metrics = new StageMetrics(registry, stage.name().id());
        try {
            store.ensureBucket();
        } catch (RuntimeException e) {
            // not fatal: readiness reports the store as down until it answers
            LOG.warning("object store not reachable at start: " + e.getMessage());
        }
        loader.submit(this::loadModels);
    }

    /**
     * Waits (bounded) for a model load in flight. Why: ONNX Runtime's native session creation ignores the interrupt,
     * and a JVM that exited under it crashed in libonnxruntime (SIGSEGV and an hs_err file) when a stack was stopped
     * while its services were still loading.
     */
    void onStop(@Observes ShutdownEvent event) {
        loader.shutdownNow();
        try {
            if (!loader.awaitTermination(LOAD_SHUTDOWN_WAIT_SECONDS, TimeUnit.SECONDS)) {
                LOG.warning("stage " + stage.name().id() + " is stopping with its model load still running");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void loadModels() {
        OrtSettings ort = new OrtSettings(ExecutionProvider.fromId(config.ort().provider()), config.ort().fallbackCpu(),
                config.ort().threads(), config.ort().warmUp());
        try {
            long t0 = System.nanoTime();
            stage.load(new ModelRepository(Path.of(config.models().dir())), config.models().version(), ort);
            modelError = null;
            LOG.info(() -> String.format("stage %s loaded %s on %s in %.1f s; consuming", stage.name().id(),
                    stage.modelVersion(), ort.provider(), (System.nanoTime() - t0) / 1e9));
            PausableChannel in = channels.getPausable(INPUT_CHANNEL);
            if (in != null) {
                in.resume();
            }
        } catch (RuntimeException e) {
            modelError = e.getMessage();
            LOG.log(Level.SEVERE, "stage " + stage.name().id() + " cannot load its models; it will not consume: "
                    + e.getMessage(), e);
        } finally {
            loadAttempted = true;
        }
    }

    /** Null when the models are loaded, else why not. */
    public String modelError() {
        return modelError;
    }

    public boolean loadAttempted() {
        return loadAttempted;
    }

    public BlobStore store() {
        return store;
    }

    /** Handles one record of the input topic and returns the record for the output topic. */
    public Record<String, String> process(Record<String, String> record) {
        long t0 = System.nanoTime();
        String stageId = stage.name().id();
        String jobId = record.key() != null ? record.key() : "unknown";
        metrics.received();
        try {
            StageEvent input = parse(record);
            jobId = input.request().jobId();
            status.publish(StatusEvent.of(jobId, stageId, State.STARTED, null));
            String marker = StageContext.jobKey(jobId, stageId, "event.json");
            if (store.exists(marker)) {
                // a redelivered or replayed event: republish what this stage already produced, do no work twice
                String done = new String(store.get(marker), StandardCharsets.UTF_8);
                status.publish(StatusEvent.of(jobId, stageId, State.DONE, "already done; output republished"));
                metrics.completed(System.nanoTime() - t0, new StageContext.PhaseTimes(0, 0, 0));
                return Record.of(jobId, done);
            }
            if (modelError != null) {
                throw new ModelLoadException(modelError);
            }
            StageContext context = new StageContext(input, stageId, store, status, metrics);
            Map<String, String> artifacts = stage.run(input, context);
            String out = EventCodec.toJson(input.next(stage.name(), artifacts, stage.modelVersion(),
                    context.timingSoFar(), context.sampling()));
            // written last: its presence means every output of this stage is in the store
            context.storeBytes(marker, out.getBytes(StandardCharsets.UTF_8), "application/json");
            status.publish(StatusEvent.of(jobId, stageId, State.DONE, null));
            metrics.completed(System.nanoTime() - t0, context.phases());
            return Record.of(jobId, out);
        } catch (Exception e) {
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            LOG.log(e instanceof InvalidEventException ? Level.WARNING : Level.SEVERE,
                    "job " + jobId + " failed in stage " + stageId + ": " + reason,
                    e instanceof InvalidEventException ? null : e);
            status.publish(StatusEvent.of(jobId, stageId, State.FAILED, reason));
            metrics.failed(category(e));
            throw new StageFailedException("job " + jobId + " failed in stage " + stageId + ": " + reason, e);
        }
    }

    private StageEvent parse(Record<String, String> record) {
        StageEvent event;
        if (stage.name() == StageName.PRIOR) {
            PromptRequest request = EventCodec.fromJson(record.value(), PromptRequest.class).validate().withDefaults();
            event = StageEvent.start(request);
        } else {
            event = EventCodec.fromJson(record.value(), StageEvent.class);
            if (event.request() == null) {
                throw new InvalidEventException("stage event has no request");
            }
            event.request().validate();
        }
        if (record.key() != null && !record.key().equals(event.request().jobId())) {
            throw new InvalidEventException("record key '" + record.key() + "' is not the event's jobId '"
                    + event.request().jobId() + "'");
        }
        return event;
    }

    private static StageMetrics.FailureReason category(Exception e) {
        if (e instanceof InvalidEventException) {
            return StageMetrics.FailureReason.INVALID_EVENT;
        }
        if (e instanceof BlobNotFoundException) {
            return StageMetrics.FailureReason.MISSING_BLOB;
        }
        if (e instanceof BlobStoreException) {
            return StageMetrics.FailureReason.OBJECT_STORE;
        }
        if (e instanceof ModelLoadException) {
            return StageMetrics.FailureReason.MODEL_NOT_LOADED;
        }
        if (e instanceof IllegalArgumentException) {
            return StageMetrics.FailureReason.INVALID_INPUT;
        }
        return StageMetrics.FailureReason.INTERNAL;
    }
}
