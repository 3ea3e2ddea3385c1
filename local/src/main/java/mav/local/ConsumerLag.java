package mav.local;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/** Records waiting per stage: end offsets of its input topic minus its consumer group's committed offsets. */
final class ConsumerLag implements AutoCloseable {
    private final Admin admin;
    private final String prefix;

    ConsumerLag(String bootstrap, String prefix) {
        // an AdminClient retries an unreachable broker for its whole timeout: ask only one that answers
        this.admin = reachable(bootstrap) ? KafkaBroker.admin(bootstrap) : null;
        this.prefix = prefix;
    }

    private static boolean reachable(String bootstrap) {
        for (String hp : bootstrap.split(",")) {
            int colon = hp.lastIndexOf(':');
            if (colon > 0 && ChildProcess.portOpen(hp.substring(0, colon).trim(),
                    Integer.parseInt(hp.substring(colon + 1).trim()))) {
                return true;
            }
        }
        return false;
    }

    /** The lag of {@code stage}'s group on its input topic, or -1 when Kafka does not answer. */
    long lag(Stage stage) {
        if (admin == null) {
            return -1;
        }
        try {
            String topic = prefix + stage.inTopic;
            var desc = admin.describeTopics(java.util.List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            desc.partitions().forEach(p -> latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = admin.listOffsets(latest).all()
                    .get(10, TimeUnit.SECONDS);
            Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(stage.group)
                    .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
            long lag = 0;
            for (var e : ends.entrySet()) {
                OffsetAndMetadata c = committed.get(e.getKey());
                lag += Math.max(0, e.getValue().offset() - (c == null ? 0 : c.offset()));
            }
            return lag;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        } catch (Exception e) {
            return -1;
        }
    }

    @Override
    public void close() {
        if (admin != null) {
            admin.close(java.time.Duration.ofSeconds(2));
        }
    }
}
