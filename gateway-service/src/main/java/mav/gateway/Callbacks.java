package mav.gateway;

import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.logging.Level;
import java.util.logging.Logger;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import mav.common.event.EventCodec;
import mav.common.event.InvalidEventException;
import mav.common.event.StatusEvent;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Delivers {@code callback_url}s: when a job's status becomes terminal the job object is POSTed there, signed, and
 * retried with backoff. The replicas share the consumer group {@code mav-gateway-callbacks} on {@code mav.status}, so
 * each status partition, and with it each job, has one replica that delivers; the offset is committed after the
 * delivery settled, so a replica that dies first leaves the job's callback to the partition's next owner (at least
 * once: receivers deduplicate by {@code X-MAV-Delivery}).
 */
@ApplicationScoped
public class Callbacks {
    static final String GROUP = "mav-gateway-callbacks";
    static final String SIGNATURE_HEADER = "X-MAV-Signature";
    static final String TIMESTAMP_HEADER = "X-MAV-Timestamp";
    static final String DELIVERY_HEADER = "X-MAV-Delivery";
    static final String EVENT_HEADER = "X-MAV-Event";
    private static final Logger LOG = Logger.getLogger(Callbacks.class.getName());
    /** How long a terminal record waits for this replica's job view to have read it. */
    private static final Duration VIEW_WAIT = Duration.ofSeconds(30);

    @Inject
    GatewayConfig config;
    @Inject
    JobIndex index;
    @Inject
    ApiKeys keys;
    @Inject
    ObjectStore store;
    @Inject
    MeterRegistry registry;
    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
            .followRedirects(HttpClient.Redirect.NEVER).build();
    private KafkaConsumer<String, String> consumer;
    private Thread thread;
    private volatile boolean stopping;

    void onStart(@Observes StartupEvent e) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "mav-gateway-callbacks");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // a new group starts at the beginning: only jobs that asked for a callback get one, and the stream keeps 3 days
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // a job's end is committed by a stage's transaction: an aborted one ended nothing
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG,
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        // deliveries run on this thread: a receiver that keeps failing holds it for its retries
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, (int) Duration.ofMinutes(10).toMillis());
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 200);
        consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        thread = new Thread(this::run, "mav-callbacks");
        thread.setDaemon(true);
        thread.start();
    }

    void onStop(@Observes ShutdownEvent e) {
        stopping = true;
        if (consumer != null) {
            consumer.wakeup();
        }
    }

    private void run() {
        try {
            consumer.subscribe(List.of(config.topicPrefix() + "status"));
            while (!stopping) {
                ConsumerRecords<String, String> records;
                try {
                    records = consumer.poll(Duration.ofMillis(500));
                } catch (WakeupException stop) {
                    throw stop;
                } catch (RuntimeException ex) {
                    LOG.log(Level.WARNING, "callbacks: reading " + config.topicPrefix() + "status failed; retrying: "
                            + ex, ex);
                    sleep(1000);
                    continue;
                }
                for (TopicPartition tp : records.partitions()) {
                    for (ConsumerRecord<String, String> r : records.records(tp)) {
                        try {
                            handle(r);
                            consumer.commitSync(Map.of(tp, new OffsetAndMetadata(r.offset() + 1)));
                        } catch (WakeupException stop) {
                            throw stop;
                        } catch (RuntimeException ex) {
                            // not lost: this partition is read again from this record
                            LOG.log(Level.WARNING, "callbacks: " + tp + "@" + r.offset() + " not handled; retrying: "
                                    + ex, ex);
                            try {
                                consumer.seek(tp, r.offset());
                            } catch (IllegalStateException revoked) {
                                // the partition moved to another replica, which reads it from the committed offset
                            }
                            sleep(1000);
                            break;
                        }
                    }
                }
            }
        } catch (WakeupException stop) {
            // shutting down
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    /** Delivers the job's callback when this record is the one that ended it. */
    private void handle(ConsumerRecord<String, String> r) {
        StatusEvent e;
        try {
            e = EventCodec.fromJson(r.value(), StatusEvent.class);
        } catch (InvalidEventException bad) {
            return;
        }
        if (e.state() == null || !e.state().terminal() || e.timestamp() == null) {
            return;
        }
        long deadline = System.nanoTime() + VIEW_WAIT.toNanos();
        while (!index.hasRead(r.partition(), r.offset())) {
            if (System.nanoTime() > deadline || stopping) {
                throw new IllegalStateException("the job view has not read " + r.topic() + "-" + r.partition() + "@"
                        + r.offset() + " after " + VIEW_WAIT.toSeconds() + " s");
            }
            sleep(50);
        }
        String jobId = e.jobId() != null ? e.jobId() : r.key();
        Optional<Job.JobView> found = index.find(jobId);
        if (found.isEmpty()) {
            return;
        }
        Job.JobView v = found.get();
        // the record that ended the job, and only that one: later stops and replays of its stages add nothing
        if (v.callbackUrl() == null || !v.status().terminal() || !e.timestamp().equals(v.finishedAt())) {
            return;
        }
        deliver(v);
    }

    /** POSTs the job object, retrying what may pass (no answer, 429, 5xx) with exponential backoff. */
    void deliver(Job.JobView v) {
        String secret = v.owner() != null ? keys.signingKey(v.owner()) : config.gateway().callbackSecret().orElse(null);
        if (secret == null) {
            outcome("unsigned");
            LOG.warning("job " + v.id() + ": no key to sign its callback with (its API key is no longer configured, or"
                    + " mav.gateway.callback-secret is not set): not delivered");
            return;
        }
        byte[] body = EventCodec.toJson(JobJson.of(v, v.status() == Job.Status.COMPLETED ? store.videoMetadata(v.id())
                : null)).getBytes(StandardCharsets.UTF_8);
        String delivery = v.id() + "." + v.status().id();
        int attempts = config.gateway().callbackAttempts();
        long backoff = config.gateway().callbackFirstRetry().toMillis();
        String last = null;
        for (int attempt = 1; attempt <= attempts && !stopping; attempt++) {
            try {
                URI target = CallbackTarget.check(v.callbackUrl(), config.gateway().callbackAllowPrivate());
                String timestamp = Long.toString(Instant.now().getEpochSecond());
                HttpResponse<Void> res = http.send(HttpRequest.newBuilder(target).timeout(Duration.ofSeconds(10))
                        .header("Content-Type", "application/json").header("User-Agent", "mav-gateway")
                        .header(TIMESTAMP_HEADER, timestamp).header(SIGNATURE_HEADER, sign(secret, timestamp, body))
                        .header(DELIVERY_HEADER, delivery).header(EVENT_HEADER, "video." + v.status().id())
                        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
                        HttpResponse.BodyHandlers.discarding());
                int code = res.statusCode();
                if (code >= 200 && code < 300) {
                    outcome("delivered");
                    LOG.info("job " + v.id() + ": callback delivered (" + v.status().id() + ", HTTP " + code
                            + ", attempt " + attempt + ")");
                    return;
                }
                last = "HTTP " + code;
                if (code != 429 && code < 500) {
                    break; // the receiver refused it: another try gets the same answer
                }
            } catch (IllegalArgumentException refused) {
                last = refused.getMessage();
                break;
            } catch (IOException ex) {
                last = ex.toString();
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                return;
            }
            if (attempt < attempts) {
                sleep(ThreadLocalRandom.current().nextLong(backoff / 2, backoff + 1));
                backoff = Math.min(backoff * 2, Duration.ofMinutes(1).toMillis());
            }
        }
        outcome("given_up");
        LOG.warning("job " + v.id() + ": callback not delivered (" + last + "); given up");
    }

    /** {@code sha256=} and the hex HMAC-SHA256 of {@code <timestamp>.<body>} under {@code secret}. */
    static String sign(String secret, String timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update(timestamp.getBytes(StandardCharsets.UTF_8));
            mac.update((byte) '.');
            return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JRE", e);
        }
    }

    private void outcome(String outcome) {
        registry.counter("mav.gateway.callbacks", "outcome", outcome).increment();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
