package mav.local;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import mav.common.event.EventCodec;
import mav.common.event.StatusEvent;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Counts, per job (record key), what a downstream consumer sees from now on: records on the videos and dead-letter
 * topics and statuses by stage and state, with the time each status arrived. Reads committed records only, as a
 * consumer of the pipeline's results should, so a duplicate counted here is one that consumer would see.
 */
final class Tally implements AutoCloseable {
    /** A status as it arrived. */
    record Seen(StatusEvent status, long atNanos) {
    }

    private final KafkaConsumer<String, String> consumer;
    private final Endpoints endpoints;
    private final Map<String, Integer> videos = new HashMap<>();
    private final Map<String, Integer> deadLetters = new HashMap<>();
    private final Map<String, List<Seen>> statuses = new HashMap<>();

    Tally(Endpoints endpoints) {
        this.endpoints = endpoints;
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafka());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 4 * 1024 * 1024);
        consumer = new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
        List<TopicPartition> parts = new ArrayList<>();
        for (String t : List.of("status", "videos", "dead-letter")) {
            consumer.partitionsFor(endpoints.topic(t), Duration.ofSeconds(30))
                    .forEach(i -> parts.add(new TopicPartition(i.topic(), i.partition())));
        }
        consumer.assign(parts);
        consumer.seekToEnd(parts);
        parts.forEach(consumer::position);
    }

    void poll(Duration timeout) {
        for (ConsumerRecord<String, String> r : consumer.poll(timeout)) {
            String key = r.key() == null ? "" : r.key();
            if (r.topic().equals(endpoints.topic("videos"))) {
                videos.merge(key, 1, Integer::sum);
            } else if (r.topic().equals(endpoints.topic("dead-letter"))) {
                deadLetters.merge(key, 1, Integer::sum);
            } else {
                try {
                    statuses.computeIfAbsent(key, k -> new ArrayList<>())
                            .add(new Seen(EventCodec.fromJson(r.value(), StatusEvent.class), System.nanoTime()));
                } catch (RuntimeException notAStatus) {
                    // someone else's record on the status topic
                }
            }
        }
    }

    int videos(String job) {
        return videos.getOrDefault(job, 0);
    }

    int deadLetters(String key) {
        return deadLetters.getOrDefault(key, 0);
    }

    long count(String job, String stage, StatusEvent.State state) {
        return statuses.getOrDefault(job, List.of()).stream()
                .filter(s -> s.status().state() == state && (stage == null || stage.equals(s.status().stage())))
                .count();
    }

    /** Jobs with a {@code started} status from {@code stage} and no {@code done}, {@code failed} or {@code cancelled} from it yet. */
    List<String> inFlight(String stage) {
        List<String> out = new ArrayList<>();
        statuses.forEach((job, list) -> {
            if (count(job, stage, StatusEvent.State.STARTED) > 0 && count(job, stage, StatusEvent.State.DONE) == 0
                    && count(job, stage, StatusEvent.State.FAILED) == 0
                    && count(job, stage, StatusEvent.State.CANCELLED) == 0) {
                out.add(job);
            }
        });
        return out;
    }

    /** When each {@code state} status of {@code job} from {@code stage} arrived, in order. */
    List<Long> arrivals(String job, String stage, StatusEvent.State state) {
        return statuses.getOrDefault(job, List.of()).stream()
                .filter(s -> s.status().state() == state && stage.equals(s.status().stage()))
                .map(Seen::atNanos).toList();
    }

    /** When the first {@code done} of {@code stage} arrived after {@code afterNanos}; -1 when none did. */
    long firstDoneAfter(String stage, long afterNanos) {
        return statuses.values().stream().flatMap(List::stream)
                .filter(s -> s.status().state() == StatusEvent.State.DONE && stage.equals(s.status().stage())
                        && s.atNanos() > afterNanos)
                .mapToLong(Seen::atNanos).min().orElse(-1);
    }

    @Override
    public void close() {
        consumer.close(Duration.ofSeconds(2));
    }
}
