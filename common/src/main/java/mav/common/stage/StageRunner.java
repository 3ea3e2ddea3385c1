package mav.common.stage;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import jakarta.annotation.Priority;
import io.quarkus.runtime.StartupEvent;
import io.smallrye.common.annotation.Identifier;
import io.smallrye.reactive.messaging.kafka.KafkaClientService;
import io.smallrye.reactive.messaging.kafka.KafkaConsumer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import jakarta.interceptor.Interceptor;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
import mav.common.stage.StageGate.Hold;
import mav.common.stage.TransactionalPublisher.PublishException;
import mav.common.store.BlobNotFoundException;
import mav.common.store.BlobStore;
import mav.common.store.BlobStoreException;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * Runs one record of the input topic through this service's {@link PipelineStage}: check its size, parse and
 * check the event, skip work already done, run the models, write the outputs; then publish the next stage's event
 * and the {@code done} status, or the {@code failed} status and a dead letter, in one Kafka transaction with the
 * record's offset (see {@link TransactionalPublisher}). Nothing a record holds can stop the consumer: every
 * failure, {@link OutOfMemoryError} included, becomes a failed status.
 *
 * <p>The input channel consumes only while the {@link StageGate} is open: not before the models are loaded, not
 * while the object store is unreachable or a publish keeps failing, not while the service drains on SIGTERM.
 */
@ApplicationScoped
public class StageRunner {
    private static final Logger LOG = Logger.getLogger(StageRunner.class.getName());
    static final String INPUT_CHANNEL = "in";
    /** Below the shortest grace period before SIGKILL: 40 s in the local launcher. */
    private static final int LOAD_SHUTDOWN_WAIT_SECONDS = 10;
    /** Beyond this a dead letter carries only the start of the record (the rest goes to the store). */
    private static final int MAX_RECORD_BYTES_LIMIT = 512 * 1024;
    /** How long an idle stage's positions must stay put before it commits them past transaction markers. */
    private static final int IDLE_COMMIT_SECONDS = 5;

    @Inject
    PipelineStage stage;
    @Inject
    MavConfig config;
    @Inject
    StatusPublisher status;
    @Inject
    MeterRegistry registry;
    @Inject
    StageGate gate;
    @Inject
    KafkaClientService kafka;
    @Inject
    @Identifier(PartitionOwnership.NAME)
    PartitionOwnership ownership;

    private BlobStore store;
    private StageMetrics metrics;
    private TransactionalPublisher publisher;
    private DeadLetters deadLetters;
    private IdleOffsetCommitter idleCommitter;
    private String outTopic;
    private String statusTopic;
    private final ExecutorService loader = Executors.newSingleThreadExecutor(r -> new Thread(r, "model-loader"));
    private final ScheduledExecutorService prober = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "store-probe");
        t.setDaemon(true);
        return t;
    });
    // apart from the store probe: its Kafka calls may wait seconds, and readiness must not
    private final ScheduledExecutorService idler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "idle-offset-commit");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean loadAttempted;
    private volatile String modelError = "models are loading";
    private volatile boolean storeReachable;
    private volatile boolean draining;
    private volatile boolean abandoned;
    private final AtomicInteger active = new AtomicInteger();

    void onStart(@Observes StartupEvent event) {
        StageName expected = StageName.fromId(config.stage());
        if (expected != stage.name()) {
            throw new IllegalStateException("mav.stage is " + config.stage() + " but this service runs "
                    + stage.name().id());
        }
        if (config.maxRecordBytes() < 1024 || config.maxRecordBytes() > MAX_RECORD_BYTES_LIMIT) {
            throw new IllegalStateException("mav.max-record-bytes must be in 1024.." + MAX_RECORD_BYTES_LIMIT
                    + " (far below Kafka's 1 MiB, so a dead letter always fits), got " + config.maxRecordBytes());
        }
        if (config.drainSeconds() < 1 || config.drainSeconds() > config.maxJobSeconds()) {
            throw new IllegalStateException("mav.drain-seconds must be in 1..mav.max-job-seconds ("
                    + config.maxJobSeconds() + "), got " + config.drainSeconds());
        }
        Config mp = ConfigProvider.getConfig();
        outTopic = config.outputTopic();
        statusTopic = config.topicPrefix() + "status";
        store = BlobStore.connect(config.s3());
        metrics = new StageMetrics(registry, stage.name().id());
        deadLetters = new DeadLetters(config.topicPrefix() + "dead-letter", stage.name().id(), config.maxRecordBytes());
        publisher = new TransactionalPublisher(TransactionalPublisher.kafka(producerSettings(mp),
                "mav-" + stage.name().id() + "-" + UUID.randomUUID()));
        try {
            store.ensureBucket();
            storeReachable = true;
        } catch (RuntimeException e) {
            // not fatal: the probe keeps the stage paused and readiness down until the store answers
            LOG.warning("object store not reachable at start: " + e.getMessage());
            gate.close(Hold.OBJECT_STORE, "object store " + config.s3().endpoint() + " does not answer");
        }
        prober.scheduleWithFixedDelay(this::probeStore, 1, 1, TimeUnit.SECONDS);
        idleCommitter = new IdleOffsetCommitter(() -> kafka.getConsumer(INPUT_CHANNEL), ownership, publisher,
                () -> active.get() == 0 && !draining && gate.isOpen());
        idler.scheduleWithFixedDelay(idleCommitter::tick, IDLE_COMMIT_SECONDS, IDLE_COMMIT_SECONDS, TimeUnit.SECONDS);
        loader.submit(this::loadModels);
    }

    /** The Kafka settings ({@code kafka.*}: bootstrap servers, security) that the transactional producer shares. */
    private static Map<String, Object> producerSettings(Config mp) {
        Map<String, Object> p = new HashMap<>();
        for (String name : ProducerConfig.configNames()) {
            mp.getOptionalValue("kafka." + name, String.class).ifPresent(v -> p.put(name, v));
        }
        return p;
    }

    /**
     * SIGTERM: stop taking records, let the job in flight finish and commit within {@code mav.drain-seconds}, or
     * abandon it uncommitted (another replica gets it once). First of the shutdown observers, so that the messaging
     * connector does not close the consumer (and leave the group) under the job. Then waits (bounded) for a model load in flight, as
     * ONNX Runtime's native session creation ignores the interrupt and a JVM that exited under it crashed in
     * libonnxruntime.
     */
    void onStop(@Observes @Priority(Interceptor.Priority.PLATFORM_BEFORE) ShutdownEvent event) {
        draining = true;
        gate.close(Hold.SHUTDOWN, "shutting down");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.drainSeconds());
        if (active.get() > 0) {
            LOG.info("stage " + stage.name().id() + " drains: finishing the job in flight (at most "
                    + config.drainSeconds() + " s)");
        }
        synchronized (active) {
            while (active.get() > 0 && System.nanoTime() < deadline) {
                try {
                    active.wait(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (active.get() > 0) {
            abandoned = true;
            LOG.warning("stage " + stage.name().id() + " stops with a job unfinished after " + config.drainSeconds()
                    + " s (mav.drain-seconds): left uncommitted, Kafka gives it to another replica");
        }
        prober.shutdownNow();
        idler.shutdownNow();
        if (publisher != null) {
            publisher.close();
        }
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
                config.ort().threads(), config.ort().warmUp(), config.ort().spinning(), config.maxBatch(),
                config.batchWaitMs());
        try {
            long t0 = System.nanoTime();
            stage.load(new ModelRepository(Path.of(config.models().dir())), config.models().version(), ort);
            modelError = null;
            LOG.info(() -> String.format("stage %s loaded %s on %s in %.1f s", stage.name().id(),
                    stage.modelVersion(), ort.provider(), (System.nanoTime() - t0) / 1e9));
            gate.open(Hold.MODELS);
        } catch (RuntimeException e) {
            modelError = e.getMessage();
            gate.close(Hold.MODELS, "models cannot load: " + e.getMessage());
            LOG.log(Level.SEVERE, "stage " + stage.name().id() + " cannot load its models; it will not consume: "
                    + e.getMessage(), e);
        } finally {
            loadAttempted = true;
        }
    }

    /** Pauses consumption while the store does not answer and resumes it when it does; readiness reads the result. */
    private void probeStore() {
        boolean up = store.isReachable();
        if (up != storeReachable) {
            LOG.info("object store " + config.s3().endpoint() + (up ? " answers again" : " does not answer"));
        }
        storeReachable = up;
        if (up) {
            gate.open(Hold.OBJECT_STORE);
        } else {
            gate.close(Hold.OBJECT_STORE, "object store " + config.s3().endpoint() + " does not answer");
        }
    }

    /** Null when the models are loaded, else why not. */
    public String modelError() {
        return modelError;
    }

    public boolean loadAttempted() {
        return loadAttempted;
    }

    /** The last probe's answer (at most a second or two old): readiness never waits on the store. */
    public boolean storeReachable() {
        return storeReachable;
    }

    /** What one record led to: the records to publish with its offset, and how the job ended. */
    private record Outcome(List<ProducerRecord<String, byte[]>> records, StageMetrics.FailureReason failure,
            StageContext.PhaseTimes phases, boolean cancelled) {
        Outcome(List<ProducerRecord<String, byte[]>> records, StageMetrics.FailureReason failure,
                StageContext.PhaseTimes phases) {
            this(records, failure, phases, false);
        }
    }

    /** Handles one record of the input topic; returns once its outcome is committed (or the record left for later). */
    public void process(ConsumerRecord<String, byte[]> record) {
        if (draining) {
            return; // not taken: uncommitted, so the partition's next owner gets it
        }
        active.incrementAndGet();
        idleCommitter.delivered();
        metrics.received();
        long t0 = System.nanoTime();
        KafkaConsumer<Object, Object> consumer = kafka.getConsumer(INPUT_CHANNEL);
        try {
            TopicPartition tp = new TopicPartition(record.topic(), record.partition());
            PartitionOwnership.Claim claim = ownership.claim(tp);
            if (claim == null) {
                LOG.info(tp + "@" + record.offset() + " arrived after its partition left this replica: not processed");
                return;
            }
            Outcome outcome = run(record, t0);
            if (publish(outcome, record, consumer, claim)) {
                if (outcome.cancelled()) {
                    metrics.cancelled();
                } else if (outcome.failure() == null) {
                    metrics.completed(System.nanoTime() - t0, outcome.phases());
                } else {
                    metrics.failed(outcome.failure());
                }
            }
        } finally {
            metrics.finished();
            synchronized (active) {
                active.decrementAndGet();
                active.notifyAll();
            }
        }
    }

    /** Runs the job; never throws: whatever goes wrong becomes a failed status and a dead letter. */
    private Outcome run(ConsumerRecord<String, byte[]> record, long t0) {
        String stageId = stage.name().id();
        String jobId = record.key() == null ? "unknown" : DeadLetters.cut(record.key(), 64);
        try {
            StageEvent input = parse(record);
            jobId = input.request().jobId();
            JobStore jobStore = new JobStore(store, jobId, t0 + TimeUnit.SECONDS.toNanos(config.maxJobSeconds()));
            // a cancelled job is not started at all, replayed or not
            jobStore.checkCancelledNow(stageId, System.nanoTime());
            status.publish(StatusEvent.of(jobId, stageId, State.STARTED, null));
            String marker = StageContext.jobKey(jobId, stageId, "event.json");
            if (jobStore.exists(marker)) {
                // a replayed event: republish what this stage already produced, do no work twice
                byte[] done = jobStore.get(marker);
                return new Outcome(List.of(output(jobId, done),
                        statusRecord(StatusEvent.of(jobId, stageId, State.DONE, "already done; output republished"))),
                        null, new StageContext.PhaseTimes(0, 0, 0));
            }
            if (modelError != null) {
                throw new ModelLoadException(modelError);
            }
            StageContext context = new StageContext(input, stageId, jobStore, status, metrics);
            Map<String, String> artifacts = stage.run(input, context);
            String out = EventCodec.toJson(input.next(stage.name(), artifacts, stage.modelVersion(),
                    context.timingSoFar(), context.sampling()));
            // a cancel that came after the last step boundary still keeps the job from the next stage
            jobStore.checkCancelledNow(stageId, System.nanoTime());
            // written last: its presence means every output of this stage is in the store
            context.storeBytes(marker, out.getBytes(StandardCharsets.UTF_8), "application/json");
            return new Outcome(List.of(output(jobId, out.getBytes(StandardCharsets.UTF_8)),
                    statusRecord(StatusEvent.of(jobId, stageId, State.DONE, null))), null, context.phases());
        } catch (JobCancelledException e) {
            LOG.info("job " + jobId + " cancelled in stage " + stageId + " (" + record.topic() + "-"
                    + record.partition() + "@" + record.offset() + "): no output, no dead letter");
            return new Outcome(List.of(statusRecord(StatusEvent.of(jobId, stageId, State.CANCELLED,
                    e.getMessage()))), null, null, true);
        } catch (Throwable e) {
            // OutOfMemoryError included: a job that asked for too much memory lets go of it as it unwinds
            StageMetrics.FailureReason category = category(e);
            String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            String where = record.topic() + "-" + record.partition() + "@" + record.offset();
            String line = "job " + jobId + " failed in stage " + stageId + " (" + category.tag() + ", " + where + "): "
                    + reason;
            if (category == StageMetrics.FailureReason.INTERNAL) {
                LOG.log(Level.SEVERE, line, e);
            } else {
                LOG.warning(line);
                LOG.log(Level.FINE, "stack of the failure above", e);
            }
            return new Outcome(List.of(statusRecord(StatusEvent.of(jobId, stageId, State.FAILED, reason)),
                    deadLetters.letter(record, reason, e, this::claimCheck)), category, null);
        }
    }

    /**
     * Commits the outcome with the record's offset, retrying (with the stage paused and readiness saying why) until
     * Kafka takes it, with the group metadata of that moment. Gives up without committing when the partition was
     * revoked while the job ran (its new owner takes the record from the committed offset), or when a drain abandoned
     * the job. A rebalance that left the partition here (cooperative assignment) does not cost the job.
     *
     * @return whether the outcome was committed
     */
    private boolean publish(Outcome outcome, ConsumerRecord<String, byte[]> record,
            KafkaConsumer<Object, Object> consumer, PartitionOwnership.Claim claim) {
        TopicPartition tp = claim.partition();
        long backoff = 500;
        while (true) {
            if (abandoned) {
                gate.open(Hold.PUBLISH);
                return false;
            }
            try {
                if (!ownership.held(claim)) {
                    LOG.info(tp + " was revoked while " + tp + "@" + record.offset() + " was processed: not committed,"
                            + " its new owner consumes it again");
                    gate.open(Hold.PUBLISH);
                    return false;
                }
                ConsumerGroupMetadata group = consumer.consumerGroupMetadata().await().atMost(Duration.ofSeconds(30));
                publisher.publish(outcome.records(), tp, record.offset() + 1, group);
                gate.open(Hold.PUBLISH);
                return true;
            } catch (PublishException | io.smallrye.mutiny.TimeoutException e) {
                gate.close(Hold.PUBLISH, "cannot publish results to Kafka: " + e.getMessage());
                // jittered, so that the replicas that lost the broker together do not come back in step
                long wait = Retry.jittered(backoff);
                LOG.warning("stage " + stage.name().id() + " cannot commit " + tp + "@" + record.offset() + ": "
                        + e.getMessage() + "; paused, retrying in " + wait + " ms");
                try {
                    Thread.sleep(wait);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return false;
                }
                backoff = Math.min(30_000, backoff * 2);
            }
        }
    }

    /** Keeps the whole of an oversized record in the store, when it answers; a dead letter carries its start. */
    private boolean claimCheck(String key, byte[] value) {
        if (!storeReachable) {
            return false;
        }
        try {
            store.put(key, value, "application/octet-stream");
            return true;
        } catch (RuntimeException e) {
            LOG.fine(() -> "claim check " + key + " not stored: " + e.getMessage());
            return false;
        }
    }

    private ProducerRecord<String, byte[]> output(String jobId, byte[] event) {
        return new ProducerRecord<>(outTopic, null, jobId, event, cloudEvent("dev.mav.stage-event"));
    }

    private ProducerRecord<String, byte[]> statusRecord(StatusEvent s) {
        return new ProducerRecord<>(statusTopic, null, s.jobId(), EventCodec.toJson(s).getBytes(StandardCharsets.UTF_8),
                cloudEvent("dev.mav.status"));
    }

    /** CloudEvents 1.0 in Kafka's binary mode, as docs/architecture.md promises for stage and status records. */
    private Headers cloudEvent(String type) {
        Headers h = new RecordHeaders();
        h.add("ce_specversion", bytes("1.0"));
        h.add("ce_id", bytes(UUID.randomUUID().toString()));
        h.add("ce_type", bytes(type));
        h.add("ce_source", bytes("mav/" + stage.name().id()));
        h.add("ce_time", bytes(Instant.now().toString()));
        h.add("content-type", bytes("application/json"));
        return h;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private StageEvent parse(ConsumerRecord<String, byte[]> record) {
        long size = (record.value() == null ? 0 : record.value().length)
                + (record.key() == null ? 0 : record.key().length());
        if (size > config.maxRecordBytes()) {
            throw new InvalidEventException("record is " + size + " bytes; this stage accepts at most "
                    + config.maxRecordBytes() + " (mav.max-record-bytes)");
        }
        String json = utf8(record.value());
        StageEvent event;
        if (stage.name() == StageName.PRIOR) {
            PromptRequest request = EventCodec.fromJson(json, PromptRequest.class).validate().withDefaults();
            event = StageEvent.start(request);
        } else {
            event = EventCodec.fromJson(json, StageEvent.class);
            if (event.request() == null) {
                throw new InvalidEventException("stage event has no request");
            }
            event.request().validate();
            event.requireArtifactsOfItsJob();
        }
        if (record.key() != null && !record.key().equals(event.request().jobId())) {
            throw new InvalidEventException("record key '" + DeadLetters.cut(record.key(), 80)
                    + "' is not the event's jobId '" + event.request().jobId() + "'");
        }
        return event;
    }

    private static String utf8(byte[] value) {
        if (value == null) {
            return null;
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(value)).toString();
        } catch (CharacterCodingException e) {
            throw new InvalidEventException("record value is not valid UTF-8 JSON (" + e.getMessage() + ")");
        }
    }

    static StageMetrics.FailureReason category(Throwable e) {
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
        if (e instanceof OutOfMemoryError) {
            return StageMetrics.FailureReason.OUT_OF_MEMORY;
        }
        return StageMetrics.FailureReason.INTERNAL;
    }
}
