package mav.local;

import java.util.Properties;
import java.util.concurrent.TimeUnit;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StatusEvent;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

/** Publishes a {@link PromptRequest} to the prompts topic, keyed by job id, and a {@code queued} status for it. */
final class JobSubmitter implements AutoCloseable {
    private final KafkaProducer<String, String> producer;
    private final Endpoints endpoints;

    JobSubmitter(Endpoints endpoints) {
        this.endpoints = endpoints;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafka());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30_000);
        p.put(ProducerConfig.CLIENT_ID_CONFIG, "mav-cli");
        producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    /** Sends the request and its queued status and waits until Kafka has both. */
    void submit(PromptRequest request) {
        // queued first: the prior may start the job before a status sent after the prompt would arrive
        sendRaw(endpoints.topic("status"), request.jobId(), EventCodec.toJson(
                StatusEvent.of(request.jobId(), "prior", StatusEvent.State.QUEUED, "submitted by ./mav")));
        sendRaw(endpoints.topic("prompts"), request.jobId(), EventCodec.toJson(request));
    }

    /** Sends any value (the IT uses it for malformed events); blocks until acknowledged. */
    void sendRaw(String topic, String key, String value) {
        try {
            producer.send(new ProducerRecord<>(topic, key, value)).get(60, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        } catch (Exception e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            throw new StackException("cannot publish to " + topic + " on Kafka " + endpoints.kafka() + ": " + c, c);
        }
    }

    @Override
    public void close() {
        producer.close(java.time.Duration.ofSeconds(5));
    }
}
