package mav.common.stage;

import io.smallrye.reactive.messaging.kafka.Record;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import mav.common.event.EventCodec;
import mav.common.event.StatusEvent;
import org.eclipse.microprofile.reactive.messaging.Channel;
import org.eclipse.microprofile.reactive.messaging.Emitter;
import org.eclipse.microprofile.reactive.messaging.OnOverflow;

/** Publishes job progress to the status topic, keyed by job id so a job's statuses stay in order. */
@ApplicationScoped
public class StatusPublisher {

    @Inject
    @Channel("status")
    @OnOverflow(value = OnOverflow.Strategy.BUFFER, bufferSize = 4096)
    Emitter<Record<String, String>> emitter;

    public void publish(StatusEvent status) {
        emitter.send(Record.of(status.jobId(), EventCodec.toJson(status)));
    }
}
