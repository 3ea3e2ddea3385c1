package mav.gateway;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.event.StageTiming;
import mav.common.event.StatusEvent;
import mav.common.store.BlobStore;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringSerializer;
import org.eclipse.microprofile.config.ConfigProvider;

/**
 * Plays the stages' side of the contract for a job: their status records on {@code mav.status}, and at the end
 * what sr-high-service writes (the MP4, the poster and the metadata under {@code videos/}, then its final event
 * on {@code mav.videos}). The MP4 is a real H.264 file of 768×768 made by ffmpeg once per run.
 */
final class StagePlayer implements AutoCloseable {
    static final int SIZE = 768;
    private static Path video;
    private static Path poster;

    private final String bootstrap;
    private final KafkaProducer<String, String> producer;
    private final BlobStore store;

    StagePlayer() {
        var config = ConfigProvider.getConfig();
        bootstrap = config.getValue("kafka.bootstrap.servers", String.class);
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
        store = BlobStore.connect(config.getValue("mav.s3.endpoint", String.class), KafkaAndS3.ACCESS_KEY,
                KafkaAndS3.SECRET_KEY, KafkaAndS3.BUCKET);
    }

    BlobStore store() {
        return store;
    }

    void started(String job, StageName stage) {
        status(StatusEvent.of(job, stage.id(), StatusEvent.State.STARTED, null));
    }

    RecordMetadata progress(String job, StageName stage, int step, int total) {
        return status(StatusEvent.progress(job, stage.id(), step, total));
    }

    void done(String job, StageName stage) {
        status(StatusEvent.of(job, stage.id(), StatusEvent.State.DONE, null));
    }

    void failed(String job, StageName stage, String reason) {
        status(StatusEvent.of(job, stage.id(), StatusEvent.State.FAILED, reason));
    }

    void cancelled(String job, StageName stage) {
        status(StatusEvent.of(job, stage.id(), StatusEvent.State.CANCELLED, "job " + job + " was cancelled"));
    }

    /** Runs every stage before sr-high: started, two steps, done. */
    void runUpTo(String job, StageName last) {
        for (StageName s : StageName.values()) {
            if (s == last) {
                return;
            }
            started(job, s);
            progress(job, s, 1, 2);
            progress(job, s, 2, 2);
            done(job, s);
        }
    }

    /** sr-high's part: its steps, then the video, poster and metadata, then done and the final event. */
    void finish(String job, PromptRequest request) throws IOException {
        started(job, StageName.SR_HIGH);
        progress(job, StageName.SR_HIGH, 1, 2);
        progress(job, StageName.SR_HIGH, 2, 2);
        byte[] mp4 = Files.readAllBytes(video());
        store.put("videos/" + job + ".mp4", mp4, "video/mp4");
        store.put("videos/" + job + ".png", Files.readAllBytes(poster), "image/png");
        Map<String, Object> meta = new LinkedHashMap<>();
        meta.put("jobId", job);
        meta.put("request", request);
        meta.put("video", Map.of("key", "videos/" + job + ".mp4", "width", SIZE, "height", SIZE, "frames", 16,
                "fps", 8, "codec", "h264", "pixelFormat", "yuv420p", "bytes", mp4.length));
        store.put("videos/" + job + ".json", EventCodec.toJson(meta).getBytes(StandardCharsets.UTF_8),
                "application/json");
        store.put("jobs/" + job + "/sr-low/frames.npy", new byte[] {1, 2, 3}, "application/octet-stream");
        done(job, StageName.SR_HIGH);
        StageEvent last = StageEvent.start(request).next(StageName.SR_HIGH, Map.of("video", "videos/" + job + ".mp4",
                "poster", "videos/" + job + ".png", "metadata", "videos/" + job + ".json"), "sr-high/1",
                new StageTiming(1, 2, 3, 6), null);
        send("mav.videos", job, EventCodec.toJson(last));
    }

    /** A stage's done written in a transaction that is then aborted, as by a replica that died before its commit. */
    void abortedDone(String job, StageName stage) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "stage-player-" + job);
        try (KafkaProducer<String, String> tx = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer())) {
            tx.initTransactions();
            tx.beginTransaction();
            tx.send(new ProducerRecord<>("mav.status", job, json(StatusEvent.of(job, stage.id(),
                    StatusEvent.State.DONE, null))));
            tx.flush();
            tx.abortTransaction();
        }
    }

    private RecordMetadata status(StatusEvent e) {
        return send("mav.status", e.jobId(), json(e));
    }

    private static String json(StatusEvent e) {
        return EventCodec.toJson(new StatusEvent(e.jobId(), e.stage(), e.state(), e.step(), e.totalSteps(),
                e.message(), Instant.now()));
    }

    private RecordMetadata send(String topic, String key, String value) {
        try {
            return producer.send(new ProducerRecord<>(topic, key, value)).get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot publish to " + topic + ": " + e, e);
        }
    }

    /** A 2 s, 16-frame H.264 MP4 of 768×768 and its first frame as PNG, made once per test run. */
    static synchronized Path video() throws IOException {
        if (video == null) {
            Path dir = Files.createDirectories(Path.of("target", "test-video").toAbsolutePath());
            video = dir.resolve("clip.mp4");
            poster = dir.resolve("poster.png");
            run(List.of("ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=" + SIZE + "x" + SIZE + ":rate=8", "-t", "2", "-pix_fmt", "yuv420p", "-c:v",
                    "libx264", "-preset", "ultrafast", "-movflags", "+faststart", video.toString()));
            run(List.of("ffmpeg", "-y", "-loglevel", "error", "-i", video.toString(), "-frames:v", "1",
                    poster.toString()));
        }
        return video;
    }

    private static void run(List<String> cmd) throws IOException {
        try {
            Process p = new ProcessBuilder(cmd).inheritIO().start();
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("failed: " + String.join(" ", cmd));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + cmd, e);
        }
    }

    @Override
    public void close() {
        producer.close();
    }
}
