package mav.common.stage;

import io.smallrye.common.annotation.Identifier;
import io.smallrye.reactive.messaging.kafka.KafkaConsumerRebalanceListener;
import jakarta.enterprise.context.ApplicationScoped;
import java.util.Collection;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.Consumer;
import org.apache.kafka.common.TopicPartition;

/**
 * Which input partitions this replica owns, and whether it kept a partition without a break while it worked on one
 * of its records. A rebalance that leaves a partition where it was (cooperative assignment: another replica joined
 * or left) does not take the record from the replica working on it; one that revoked the partition, even if it gave
 * it back, does: someone else may have consumed the record since.
 */
@ApplicationScoped
@Identifier(PartitionOwnership.NAME)
public class PartitionOwnership implements KafkaConsumerRebalanceListener {
    /** The name the input channel's {@code consumer-rebalance-listener.name} refers to. */
    public static final String NAME = "mav-stage-input";

    /** Per partition: how many times it was assigned to this replica; absent while not owned. */
    private final Map<TopicPartition, Long> tenure = new ConcurrentHashMap<>();
    private long assignments;

    /** A claim on one partition, taken when a record of it starts. */
    public record Claim(TopicPartition partition, long tenure) {
    }

    /** The claim for a record of {@code tp}, or null when this replica does not own {@code tp} now. */
    public Claim claim(TopicPartition tp) {
        Long t = tenure.get(tp);
        return t == null ? null : new Claim(tp, t);
    }

    /** Whether the partition stayed with this replica, without a revocation, since the claim was taken. */
    public boolean held(Claim claim) {
        Long t = tenure.get(claim.partition());
        return t != null && t == claim.tenure();
    }

    @Override
    public synchronized void onPartitionsAssigned(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            tenure.put(tp, ++assignments);
        }
    }

    @Override
    public void onPartitionsRevoked(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        partitions.forEach(tenure::remove);
    }

    @Override
    public void onPartitionsLost(Consumer<?, ?> consumer, Collection<TopicPartition> partitions) {
        partitions.forEach(tenure::remove);
    }
}
