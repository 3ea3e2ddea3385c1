package mav.common.stage;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.Supplier;
import java.util.logging.Logger;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.errors.OutOfOrderSequenceException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.errors.UnsupportedVersionException;

/**
 * Publishes what one input record produced (the next stage's event and the {@code done} status, or the
 * {@code failed} status and the dead letter) in one Kafka transaction together with that record's offset. So a
 * crash before the commit publishes nothing and the record comes again; after it, the offset is committed too and
 * it never comes again: read_committed consumers see exactly one result per record.
 *
 * <p>Not thread-safe per call: a producer has one transaction at a time, so calls are serialized.
 */
public final class TransactionalPublisher implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(TransactionalPublisher.class.getName());
    private final Supplier<Producer<String, byte[]>> factory;
    private Producer<String, byte[]> producer;

    public TransactionalPublisher(Supplier<Producer<String, byte[]>> factory) {
        this.factory = factory;
    }

    /** A factory for a transactional producer with {@code base} settings (bootstrap, security) and this id. */
    public static Supplier<Producer<String, byte[]>> kafka(Map<String, Object> base, String transactionalId) {
        return () -> {
            Properties p = new Properties();
            p.putAll(base);
            p.put("transactional.id", transactionalId);
            p.put("enable.idempotence", true);
            p.put("acks", "all");
            // a transaction here spans a few sends and one commit, never a job: a producer killed inside one
            // holds back read_committed consumers of its partitions for at most this long
            p.put("transaction.timeout.ms", 30_000);
            p.put("max.block.ms", 30_000);
            p.put("delivery.timeout.ms", 60_000);
            p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
            p.put("value.serializer", "org.apache.kafka.common.serialization.ByteArraySerializer");
            return new KafkaProducer<>(p);
        };
    }

    /** Thrown when the records and offset could not be committed; nothing of them is visible to read_committed. */
    public static final class PublishException extends RuntimeException {
        PublishException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Sends {@code records} and commits {@code input}'s next offset for {@code group}, all or nothing.
     *
     * @throws PublishException when the transaction was aborted or could not be run
     */
    public synchronized void publish(List<ProducerRecord<String, byte[]>> records, TopicPartition input,
            long nextOffset, ConsumerGroupMetadata group) {
        commit(records, Map.of(input, new OffsetAndMetadata(nextOffset)), group);
    }

    /**
     * Commits only offsets for {@code group}, in a transaction of their own, fenced like {@link #publish}.
     *
     * @throws PublishException when the transaction was aborted or could not be run
     */
    public synchronized void commitOffsets(Map<TopicPartition, Long> nextOffsets, ConsumerGroupMetadata group) {
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        nextOffsets.forEach((tp, next) -> offsets.put(tp, new OffsetAndMetadata(next)));
        commit(List.of(), offsets, group);
    }

    private void commit(List<ProducerRecord<String, byte[]>> records, Map<TopicPartition, OffsetAndMetadata> offsets,
            ConsumerGroupMetadata group) {
        try {
            if (producer == null) {
                producer = factory.get();
                producer.initTransactions();
            }
            producer.beginTransaction();
            for (ProducerRecord<String, byte[]> r : records) {
                producer.send(r);
            }
            producer.sendOffsetsToTransaction(offsets, group);
            producer.commitTransaction();
        } catch (ProducerFencedException | OutOfOrderSequenceException | AuthorizationException
                | UnsupportedVersionException e) {
            // fatal for this producer: another one took its id or the broker refuses it; a new one is made next time
            discard();
            throw new PublishException("cannot publish to Kafka: " + e, e);
        } catch (KafkaException | IllegalStateException e) {
            abort();
            throw new PublishException("cannot publish to Kafka: " + e, e);
        }
    }

    private void abort() {
        if (producer == null) {
            return;
        }
        try {
            producer.abortTransaction();
        } catch (RuntimeException e) {
            LOG.fine(() -> "abort failed, the producer is replaced: " + e);
            discard();
        }
    }

    private void discard() {
        if (producer != null) {
            try {
                producer.close(Duration.ZERO);
            } catch (RuntimeException ignored) {
                // already broken
            }
            producer = null;
        }
    }

    @Override
    public synchronized void close() {
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
            producer = null;
        }
    }
}
