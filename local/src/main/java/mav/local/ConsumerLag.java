package mav.local;

import java.time.Duration;
import mav.common.kafka.ConsumerGroupLag;
import org.apache.kafka.clients.admin.Admin;

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
            return ConsumerGroupLag.of(admin, prefix + stage.inTopic, stage.group, Duration.ofSeconds(10));
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
            admin.close(Duration.ofSeconds(2));
        }
    }
}
