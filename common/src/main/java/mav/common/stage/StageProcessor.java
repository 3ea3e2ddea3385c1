package mav.common.stage;

import io.smallrye.reactive.messaging.annotations.Blocking;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.eclipse.microprofile.reactive.messaging.Incoming;

/**
 * The Kafka consumer of every stage service: channel {@code in} is the stage's input topic. Inference runs on the
 * bounded {@code inference} worker pool ({@code mav.workers} at a time), never on the event loop, and unordered so
 * that several partitions can be worked on at once. The next stage's topic ({@code mav.output-topic}) is written
 * by {@link StageRunner} in a Kafka transaction that also commits the input record's offset.
 */
@ApplicationScoped
public class StageProcessor {

    @Inject
    StageRunner runner;

    @Incoming("in")
    @Blocking(value = "inference", ordered = false)
    public void process(ConsumerRecord<String, byte[]> record) {
        runner.process(record);
    }
}
