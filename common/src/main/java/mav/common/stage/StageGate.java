package mav.common.stage;

import io.smallrye.reactive.messaging.ChannelRegistry;
import io.smallrye.reactive.messaging.PausableChannel;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Logger;

/**
 * Whether the stage takes records from its input topic: it does only while nothing holds it back. Each holder
 * (models loading, the object store unreachable, a publish that failed, a shutdown draining) closes the gate under
 * its own name with a reason and opens it again for itself; readiness shows the reasons.
 */
@ApplicationScoped
public class StageGate {
    private static final Logger LOG = Logger.getLogger(StageGate.class.getName());

    /** The holders, in the order readiness lists them. */
    public enum Hold {
        MODELS, OBJECT_STORE, PUBLISH, SHUTDOWN
    }

    @Inject
    ChannelRegistry channels;

    private final Map<Hold, String> reasons = new LinkedHashMap<>();

    public StageGate() {
        reasons.put(Hold.MODELS, "models are loading");
    }

    public synchronized void close(Hold hold, String reason) {
        boolean wasOpen = reasons.isEmpty();
        if (reasons.put(hold, reason) == null && hold != Hold.MODELS) {
            LOG.warning("stage holds consumption: " + reason);
        }
        if (wasOpen) {
            apply();
        }
    }

    public synchronized void open(Hold hold) {
        if (reasons.remove(hold) != null && reasons.isEmpty()) {
            LOG.info("stage consumes");
            apply();
        }
    }

    public synchronized boolean isOpen() {
        return reasons.isEmpty();
    }

    public synchronized boolean isClosedBy(Hold hold) {
        return reasons.containsKey(hold);
    }

    /** Why the stage does not consume, or null when it does. */
    public synchronized String reason() {
        return reasons.isEmpty() ? null : String.join("; ", reasons.values());
    }

    private void apply() {
        PausableChannel in = channels == null ? null : channels.getPausable(StageRunner.INPUT_CHANNEL);
        if (in == null) {
            return;
        }
        if (reasons.isEmpty()) {
            in.resume();
        } else {
            in.pause();
        }
    }
}
