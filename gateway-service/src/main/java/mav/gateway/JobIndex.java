package mav.gateway;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import mav.common.event.EventCodec;
import mav.common.event.InvalidEventException;
import mav.common.event.PromptRequest;
import mav.common.event.StageName;
import mav.common.event.StatusEvent;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * The gateway's view of every job, rebuilt from {@code mav.status} read from its beginning by a consumer of its own
 * (assigned every partition, no consumer group), so each replica holds the same view and a restart loses nothing.
 * Owner and request come from the headers of the queued record the gateway writes on submission.
 */
@ApplicationScoped
public class JobIndex {
    static final String OWNER_HEADER = "mav-owner";
    static final String REQUEST_HEADER = "mav-request";
    static final String CALLBACK_HEADER = "mav-callback-url";
    static final String GATEWAY_EVENT_HEADER = "mav-gateway-event";
    static final String DELETED = "deleted";
    static final String CANCELLED = "cancelled";
    private static final Logger LOG = Logger.getLogger(JobIndex.class.getName());
    private static final Duration PARTITION_RECHECK = Duration.ofSeconds(30);

    @Inject
    GatewayConfig config;
    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private final Map<String, Job> jobs = new HashMap<>();
    /** Per partition of mav.status: the offset after the last record applied. */
    private final Map<Integer, Long> positions = new ConcurrentHashMap<>();
    private final Map<String, List<Consumer<Job.JobView>>> watchers = new ConcurrentHashMap<>();
    private final Map<StageName, List<Finished>> finished = new EnumMap<>(StageName.class);
    private volatile boolean caughtUp;
    private volatile String consumerError;
    private KafkaConsumer<String, String> consumer;
    private Thread thread;

    /** A stage's run of one job: when it ended, how long it took, whether it failed. */
    record Finished(Instant at, long ms, boolean failed) {
    }

    void onStart(@Observes StartupEvent e) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "mav-gateway-view");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 2000);
        // stages write statuses in transactions: a status of an aborted one never happened
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        thread = new Thread(this::run, "mav-status-view");
        thread.setDaemon(true);
        thread.start();
    }

    void onStop(@Observes ShutdownEvent e) {
        if (consumer != null) {
            consumer.wakeup();
        }
    }

    private String topic() {
        return config.topicPrefix() + "status";
    }

    private void run() {
        Map<TopicPartition, Long> catchUpTo = null;
        long nextRecheck = 0;
        try {
            while (true) {
                try {
                    if (System.nanoTime() > nextRecheck) {
                        // partitions can be added to a topic: keep every one assigned
                        List<TopicPartition> all = partitions();
                        List<TopicPartition> fresh = all.stream()
                                .filter(tp -> !consumer.assignment().contains(tp)).toList();
                        if (!fresh.isEmpty()) {
                            List<TopicPartition> assigned = new ArrayList<>(consumer.assignment());
                            assigned.addAll(fresh);
                            consumer.assign(assigned);
                            consumer.seekToBeginning(fresh);
                            if (catchUpTo == null) {
                                catchUpTo = consumer.endOffsets(all);
                            }
                        }
                        nextRecheck = System.nanoTime() + PARTITION_RECHECK.toNanos();
                    }
                    if (consumer.assignment().isEmpty()) {
                        consumerError = "topic " + topic() + " does not exist (yet)";
                        Thread.sleep(1000);
                        nextRecheck = 0;
                        continue;
                    }
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                        accept(r.key(), r.value(), r.headers());
                        positions.put(r.partition(), r.offset() + 1);
                    }
                    consumerError = null;
                    if (!caughtUp && catchUpTo != null && reached(catchUpTo)) {
                        caughtUp = true;
                        LOG.info("status view caught up with " + topic() + ": " + size() + " jobs");
                    }
                } catch (WakeupException stop) {
                    throw stop;
                } catch (InterruptedException stop) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (RuntimeException ex) {
                    consumerError = ex.toString();
                    LOG.log(Level.WARNING, "reading " + topic() + " failed; retrying: " + ex, ex);
                    Thread.sleep(1000);
                }
            }
        } catch (WakeupException | InterruptedException stop) {
            // shutting down
        } finally {
            consumer.close(Duration.ofSeconds(2));
        }
    }

    private List<TopicPartition> partitions() {
        List<PartitionInfo> infos = consumer.partitionsFor(topic(), Duration.ofSeconds(10));
        if (infos == null) {
            return List.of();
        }
        return infos.stream().map(i -> new TopicPartition(i.topic(), i.partition()))
                .sorted(Comparator.comparingInt(TopicPartition::partition)).toList();
    }

    private boolean reached(Map<TopicPartition, Long> ends) {
        for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** True once every status record that existed at start-up has been read: the view is complete. */
    public boolean caughtUp() {
        return caughtUp;
    }

    /** Whether the view has applied the record at {@code offset} of status partition {@code partition}. */
    public boolean hasRead(int partition, long offset) {
        return positions.getOrDefault(partition, 0L) > offset;
    }

    /** Why the view is not being updated, or null. */
    public String consumerError() {
        return consumerError;
    }

    /** Applies one status record; the submitting replica also calls it so that its own answer is immediate. */
    void accept(String key, String value, Headers headers) {
        StatusEvent e;
        try {
            e = EventCodec.fromJson(value, StatusEvent.class);
        } catch (InvalidEventException bad) {
            LOG.warning("skipping a malformed record of " + topic() + " (key " + key + "): " + bad.getMessage());
            return;
        }
        String jobId = e.jobId() != null ? e.jobId() : key;
        if (jobId == null) {
            return;
        }
        Job.JobView view;
        synchronized (this) {
            Job job = jobs.computeIfAbsent(jobId, Job::new);
            String gatewayEvent = header(headers, GATEWAY_EVENT_HEADER);
            if (DELETED.equals(gatewayEvent)) {
                job.deleted = true;
                job.version++;
            } else {
                String owner = header(headers, OWNER_HEADER);
                if (owner != null && !owner.equals(job.owner)) {
                    job.owner = owner;
                    job.version++;
                }
                String callback = header(headers, CALLBACK_HEADER);
                if (callback != null && job.callbackUrl == null) {
                    job.callbackUrl = callback;
                }
                String request = header(headers, REQUEST_HEADER);
                if (request != null && job.request == null) {
                    job.request = readRequest(jobId, request);
                    job.version++;
                }
                Job.StageState before = stageOf(job, e);
                if (job.apply(e)) {
                    recordFinish(job, e, before);
                }
            }
            view = job.view();
            if (job.deleted) {
                view = null;
            }
        }
        List<Consumer<Job.JobView>> ws = watchers.get(jobId);
        if (ws != null && view != null) {
            for (Consumer<Job.JobView> w : ws) {
                w.accept(view);
            }
        }
    }

    private static Job.StageState stageOf(Job job, StatusEvent e) {
        try {
            return job.stage(StageName.fromId(e.stage()));
        } catch (IllegalArgumentException unknown) {
            return null;
        }
    }

    private void recordFinish(Job job, StatusEvent e, Job.StageState before) {
        if (before == null || before.finishedAt() != null || e.state() == null) {
            return;
        }
        if (e.state() != StatusEvent.State.DONE && e.state() != StatusEvent.State.FAILED) {
            return;
        }
        StageName stage = StageName.fromId(e.stage());
        Job.StageState after = job.stage(stage);
        if (after.startedAt() == null || after.finishedAt() == null) {
            return;
        }
        List<Finished> list = finished.computeIfAbsent(stage, s -> new ArrayList<>());
        list.add(new Finished(after.finishedAt(), Duration.between(after.startedAt(), after.finishedAt()).toMillis(),
                e.state() == StatusEvent.State.FAILED));
        // bounded memory: stats look back a window, never further than the last few thousand runs
        if (list.size() > 5000) {
            list.subList(0, list.size() - 4000).clear();
        }
    }

    private static PromptRequest readRequest(String jobId, String json) {
        try {
            return EventCodec.fromJson(json, PromptRequest.class);
        } catch (InvalidEventException bad) {
            LOG.warning("job " + jobId + ": unreadable request header: " + bad.getMessage());
            return null;
        }
    }

    private static String header(Headers headers, String name) {
        if (headers == null) {
            return null;
        }
        Header h = headers.lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** The job, unless unknown or deleted. */
    public synchronized Optional<Job.JobView> find(String id) {
        Job j = jobs.get(id);
        return j == null || j.deleted ? Optional.empty() : Optional.of(j.view());
    }

    /** True for any id the stream has seen, deleted ones included: a job id is never reused. */
    public synchronized boolean known(String id) {
        return jobs.containsKey(id);
    }

    public synchronized int size() {
        return jobs.size();
    }

    /** Every live job, newest first. */
    public synchronized List<Job.JobView> newestFirst() {
        return jobs.values().stream().filter(j -> !j.deleted).map(Job::view)
                .sorted(Comparator.comparing(Job.JobView::createdAt, Comparator.nullsLast(Comparator.reverseOrder()))
                        .thenComparing(Job.JobView::id))
                .toList();
    }

    /** Jobs of {@code owner} that are queued or in progress. */
    public synchronized long inFlight(String owner) {
        return jobs.values().stream().filter(j -> !j.deleted && owner.equals(ownerBucket(j.owner)))
                .filter(j -> !j.status().terminal()).count();
    }

    private static String ownerBucket(String owner) {
        return owner == null ? "anonymous" : owner;
    }

    /** Calls {@code watcher} on every change of job {@code id} until the returned handle is closed. */
    public AutoCloseable watch(String id, Consumer<Job.JobView> watcher) {
        watchers.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(watcher);
        return () -> watchers.computeIfPresent(id, (k, list) -> {
            list.remove(watcher);
            return list.isEmpty() ? null : list;
        });
    }

    /** Per stage: runs finished within {@code window}, and jobs the stage has started but not finished. */
    public synchronized Map<StageName, StageWindow> stageWindows(Duration window) {
        Instant since = Instant.now().minus(window);
        Map<StageName, StageWindow> out = new EnumMap<>(StageName.class);
        for (StageName s : StageName.values()) {
            List<Finished> recent = finished.getOrDefault(s, List.of()).stream()
                    .filter(f -> f.at().isAfter(since)).toList();
            long running = jobs.values().stream().filter(j -> !j.deleted)
                    .filter(j -> j.stage(s).state().equals("running")).count();
            out.put(s, new StageWindow(recent, running));
        }
        return out;
    }

    record StageWindow(List<Finished> finished, long running) {
    }
}
