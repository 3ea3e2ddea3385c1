package mav.common.stage;

import io.smallrye.reactive.messaging.annotations.Blocking;
import io.smallrye.reactive.messaging.kafka.Record;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.reactive.messaging.Incoming;
import org.eclipse.microprofile.reactive.messaging.Outgoing;

/**
 * The Kafka processor of every stage service: channel {@code in} is the stage's input topic, {@code out} the next
 * stage's. Inference runs on the bounded {@code inference} worker pool ({@code mav.workers} at a time), never on
 * the event loop, and unordered so that several partitions can be worked on at once. The input record's offset is
 * committed only after the output record is acknowledged by the broker.
 */
@ApplicationScoped
public class StageProcessor {

    @Inject
    StageRunner runner;

    @Incoming("in")
    @Outgoing("out")
    @Blocking(value = "inference", ordered = false)
    public Record<String, String> process(Record<String, String> record) {
        return runner.process(record);
    }
}
