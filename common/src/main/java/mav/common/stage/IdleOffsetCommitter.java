package mav.common.stage;

import io.smallrye.reactive.messaging.kafka.KafkaConsumer;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

/**
 * Commits an idle stage's positions past the transaction markers its input partitions end with. Every record on a
 * stage topic is written in a transaction, so a partition ends with a commit marker that no consumer receives; the
 * offset a stage commits with its last job points at that marker, and without this the group would show a lag of one
 * per partition for ever: KEDA would never scale the stage to zero and would keep replicas up for lag that is not
 * work (kedacore/keda#5675).
 *
 * <p>A position is committed only after a whole period in which the stage was idle (nothing in flight, consuming,
 * not draining), received no record and its positions did not move: a fetched record waits for an idle worker for
 * milliseconds, so what lies between the committed offset and a position that stayed put is markers.
 */
final class IdleOffsetCommitter {
    private static final Logger LOG = Logger.getLogger(IdleOffsetCommitter.class.getName());
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final Supplier<KafkaConsumer<Object, Object>> consumer;
    private final PartitionOwnership ownership;
    private final TransactionalPublisher publisher;
    private final BooleanSupplier idle;
    private final AtomicLong deliveries = new AtomicLong();
    private Snapshot previous;

    private record Snapshot(Map<TopicPartition, Long> positions, long deliveries) {
    }

    IdleOffsetCommitter(Supplier<KafkaConsumer<Object, Object>> consumer, PartitionOwnership ownership,
            TransactionalPublisher publisher, BooleanSupplier idle) {
        this.consumer = consumer;
        this.ownership = ownership;
        this.publisher = publisher;
        this.idle = idle;
    }

    /** Called for every record the stage receives. */
    void delivered() {
        deliveries.incrementAndGet();
    }

    /** One period: remembers the positions, and commits them when they stayed put over an idle period. */
    void tick() {
        try {
            if (!idle.getAsBoolean()) {
                previous = null;
                return;
            }
            KafkaConsumer<Object, Object> consumer = this.consumer.get();
            Snapshot now = new Snapshot(consumer.getPositions().await().atMost(WAIT), deliveries.get());
            Snapshot before = previous;
            previous = now;
            if (before == null || !before.equals(now) || now.positions().isEmpty()) {
                return;
            }
            Map<TopicPartition, OffsetAndMetadata> committed = consumer.committed(
                    now.positions().keySet().toArray(TopicPartition[]::new)).await().atMost(WAIT);
            Map<TopicPartition, Long> advance = new HashMap<>();
            now.positions().forEach((tp, position) -> {
                OffsetAndMetadata c = committed.get(tp);
                if (c != null && position > c.offset() && ownership.claim(tp) != null) {
                    advance.put(tp, position);
                }
            });
            if (advance.isEmpty() || !idle.getAsBoolean() || deliveries.get() != now.deliveries()) {
                return;
            }
            publisher.commitOffsets(advance, consumer.consumerGroupMetadata().await().atMost(WAIT));
            LOG.fine(() -> "idle: committed positions past transaction markers " + advance);
        } catch (RuntimeException e) {
            // the next period tries again; nothing was lost, the lag only shows a marker longer
            previous = null;
            LOG.log(Level.FINE, "idle offset commit skipped", e);
        }
    }
}
