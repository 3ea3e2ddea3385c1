package mav.gateway;

import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StatusEvent;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.inject.ConfigProperty;

/**
 * Writes to Kafka for the gateway, each call waiting for the broker's acknowledgement so that a 202 means the job
 * is in {@code mav.prompts}: the queued status (with owner and request in headers, which {@link JobIndex} reads
 * back), the prompt itself, and the cancellation and deletion markers of a job.
 */
@ApplicationScoped
public class JobPublisher {
    private static final Duration ACK_TIMEOUT = Duration.ofSeconds(30);

    @Inject
    GatewayConfig config;
    @ConfigProperty(name = "kafka.bootstrap.servers")
    String bootstrap;

    private KafkaProducer<String, String> producer;

    void onStart(@Observes StartupEvent e) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "mav-gateway");
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 10_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 20_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    void onStop(@Observes ShutdownEvent e) {
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }

    /** Publishes a submitted job: its queued status and its prompt; returns the status record for the local view. */
    public ProducerRecord<String, String> submit(PromptRequest request, String owner, String callbackUrl) {
        StatusEvent queued = StatusEvent.of(request.jobId(), "prior", StatusEvent.State.QUEUED,
                "submitted through the gateway");
        RecordHeaders headers = new RecordHeaders();
        headers.add(JobIndex.GATEWAY_EVENT_HEADER, bytes("submitted"));
        headers.add(JobIndex.REQUEST_HEADER, bytes(EventCodec.toJson(request)));
        if (owner != null) {
            headers.add(JobIndex.OWNER_HEADER, bytes(owner));
        }
        if (callbackUrl != null) {
            headers.add(JobIndex.CALLBACK_HEADER, bytes(callbackUrl));
        }
        ProducerRecord<String, String> status = new ProducerRecord<>(topic("status"), null, request.jobId(),
                EventCodec.toJson(queued), headers);
        // both in one round trip: the view ignores a queued status that arrives after the prior's first one
        ProducerRecord<String, String> prompt = new ProducerRecord<>(topic("prompts"), request.jobId(),
                EventCodec.toJson(request));
        Future<RecordMetadata> queuedSent = producer.send(status);
        Future<RecordMetadata> promptSent = producer.send(prompt);
        await(status, queuedSent);
        await(prompt, promptSent);
        return status;
    }

    /** Marks a job deleted in the status stream, so that every replica, now or after a restart, forgets it. */
    public ProducerRecord<String, String> deleted(String jobId) {
        return gatewayStatus(jobId, JobIndex.DELETED, StatusEvent.State.DONE,
                "deleted through the gateway: video and intermediates removed");
    }

    /**
     * Marks a job cancelled in the status stream (stage {@code gateway}), so that every replica answers
     * {@code cancelled} at once; the stage running it adds its own {@code cancelled} when it stops.
     */
    public ProducerRecord<String, String> cancelled(String jobId) {
        return gatewayStatus(jobId, JobIndex.CANCELLED, StatusEvent.State.CANCELLED, "cancelled through the gateway");
    }

    /** Publishes the gateway's own status of a job, marked with {@code event} in a header, and waits for it. */
    private ProducerRecord<String, String> gatewayStatus(String jobId, String event, StatusEvent.State state,
            String message) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(JobIndex.GATEWAY_EVENT_HEADER, bytes(event));
        ProducerRecord<String, String> r = new ProducerRecord<>(topic("status"), null, jobId,
                EventCodec.toJson(StatusEvent.of(jobId, "gateway", state, message)), headers);
        send(r);
        return r;
    }

    private void send(ProducerRecord<String, String> r) {
        await(r, producer.send(r));
    }

    private static void await(ProducerRecord<String, String> r, Future<RecordMetadata> sent) {
        try {
            sent.get(ACK_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new PublishException("job " + r.key() + ": interrupted while publishing to " + r.topic(), e);
        } catch (ExecutionException | TimeoutException | RuntimeException e) {
            Throwable c = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw new PublishException("job " + r.key() + ": Kafka did not take the record for " + r.topic() + ": "
                    + c, c);
        }
    }

    private String topic(String name) {
        return config.topicPrefix() + name;
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Kafka refused or timed out a record; the API answers 503. */
    public static final class PublishException extends RuntimeException {
        PublishException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
