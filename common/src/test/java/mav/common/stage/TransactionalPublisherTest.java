package mav.common.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

class TransactionalPublisherTest {
    private final List<MockProducer<String, byte[]>> made = new ArrayList<>();
    private final TransactionalPublisher publisher = new TransactionalPublisher(() -> {
        MockProducer<String, byte[]> p = new MockProducer<>(false, null, new StringSerializer(), new ByteArraySerializer());
        made.add(p);
        return p;
    });
    private final TopicPartition input = new TopicPartition("mav.embeddings", 3);
    private final ConsumerGroupMetadata group = new ConsumerGroupMetadata("mav-decoder");
    private final List<ProducerRecord<String, byte[]>> outcome = List.of(
            new ProducerRecord<>("mav.keyframes", "j1", new byte[] {1}),
            new ProducerRecord<>("mav.status", "j1", new byte[] {2}));

    @Test
    void theOutputTheStatusAndTheInputOffsetAreCommittedTogether() {
        publisher.publish(outcome, input, 42, group);
        MockProducer<String, byte[]> p = made.get(0);
        assertTrue(p.transactionCommitted());
        assertEquals(2, p.history().size());
        assertEquals(List.of(Map.of("mav-decoder", Map.of(input, new OffsetAndMetadata(42)))),
                p.consumerGroupOffsetsHistory());
    }

    @Test
    void aCommitThatFailsAbortsEverythingAndSaysSo() {
        publisher.publish(List.of(), input, 1, group); // makes the producer
        MockProducer<String, byte[]> p = made.get(0);
        p.commitTransactionException = new KafkaException("broker gone");
        assertThrows(TransactionalPublisher.PublishException.class, () -> publisher.publish(outcome, input, 2, group));
        assertTrue(p.transactionAborted(), "nothing of the failed outcome is visible to read_committed consumers");
        assertEquals(1, made.size(), "an abortable failure keeps the producer");
    }

    @Test
    void aFencedProducerIsReplacedOnTheNextPublish() {
        publisher.publish(List.of(), input, 1, group);
        made.get(0).fenceProducer();
        assertThrows(TransactionalPublisher.PublishException.class, () -> publisher.publish(outcome, input, 2, group));
        publisher.publish(outcome, input, 2, group);
        assertEquals(2, made.size());
        assertTrue(made.get(1).transactionCommitted());
    }
}
