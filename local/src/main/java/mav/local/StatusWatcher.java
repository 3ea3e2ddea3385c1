package mav.local;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import mav.common.event.EventCodec;
import mav.common.event.StageEvent;
import mav.common.event.StatusEvent;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Follows the status and videos topics from their current end (no consumer group: it commits nothing and does not
 * take partitions from anyone). Open it before submitting, so that no event of the job is missed.
 */
final class StatusWatcher implements AutoCloseable {
    /** Receives what arrives; events that do not parse are skipped. */
    interface Listener {
        void status(StatusEvent status);

        void video(String jobId, StageEvent event, String json);
    }

    private final KafkaConsumer<String, String> consumer;
    private final String statusTopic;
    private final String videosTopic;

    StatusWatcher(Endpoints endpoints) {
        statusTopic = endpoints.topic("status");
        videosTopic = endpoints.topic("videos");
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafka());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        // results and done/failed statuses are written in transactions: see only committed ones, each once
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.CLIENT_ID_CONFIG, "mav-cli-watch");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        List<TopicPartition> parts = new ArrayList<>();
        for (String t : List.of(statusTopic, videosTopic)) {
            List<PartitionInfo> infos = consumer.partitionsFor(t, Duration.ofSeconds(30));
            if (infos == null || infos.isEmpty()) {
                consumer.close();
                throw new StackException("topic " + t + " does not exist on Kafka " + endpoints.kafka());
            }
            for (PartitionInfo i : infos) {
                parts.add(new TopicPartition(t, i.partition()));
            }
        }
        consumer.assign(parts);
        consumer.seekToEnd(parts);
        for (TopicPartition tp : parts) {
            consumer.position(tp); // resolves the lazy seek now, before the job is submitted
        }
    }

    /** Polls once, up to {@code timeout}, and hands every event to {@code listener}. */
    void poll(Duration timeout, Listener listener) {
        for (ConsumerRecord<String, String> r : consumer.poll(timeout)) {
            try {
                if (r.topic().equals(statusTopic)) {
                    listener.status(EventCodec.fromJson(r.value(), StatusEvent.class));
                } else {
                    StageEvent e = EventCodec.fromJson(r.value(), StageEvent.class);
                    String job = e.request() != null ? e.request().jobId() : r.key();
                    listener.video(job, e, r.value());
                }
            } catch (RuntimeException e) {
                // not ours to judge: a malformed status or video event is skipped
            }
        }
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(2));
    }
}
