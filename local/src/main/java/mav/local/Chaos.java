package mav.local;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.event.StatusEvent.State;
import mav.common.store.BlobStore;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Fault injection against a running local stack: kill -9 of busy stage replicas, SIGTERM of a busy replica, the
 * object store stopped and started again, the broker frozen, and a flood of malformed and hostile records. Each scenario submits
 * real jobs, counts what a read_committed consumer of the results sees ({@link Tally}) and returns its figures;
 * ChaosIT asserts on them, {@code ./mav chaos} prints them.
 */
final class Chaos {
    /** What one scenario did and what came of it. */
    record Figures(String scenario, int jobs, int faults, int completed, int duplicates, int failed,
            double recoverySeconds, double seconds) {
        static String header() {
            return String.format("%-22s %5s %6s %9s %10s %6s %9s %8s", "scenario", "jobs", "faults", "completed",
                    "duplicates", "failed", "recovery", "time");
        }

        /**
         * Every job completed once and none failed; for the bad records, every one failed once with one dead letter
         * and the good job after them completed.
         */
        boolean passed() {
            return scenario.equals("bad records") ? failed == faults && duplicates == 0 && completed == 1
                    : completed == jobs && duplicates == 0 && failed == 0;
        }

        String line() {
            return String.format("%-22s %5d %6d %9d %10d %6d %8s %7.0fs", scenario, jobs, faults, completed,
                    duplicates, failed, recoverySeconds < 0 ? "-" : String.format("%.1fs", recoverySeconds), seconds);
        }
    }

    private static final Map<String, Integer> ONE_STEP = Map.of("prior", 1, "decoder", 1, "interpolation", 1,
            "srLow", 1, "srHigh", 1);
    private final LocalStack stack;
    private final Endpoints endpoints;
    private final Consumer<String> say;
    private final Duration jobTimeout;
    private final String run = Long.toString(System.currentTimeMillis() % 1_000_000, 36);

    Chaos(LocalStack stack, Duration jobTimeout, Consumer<String> say) {
        this.stack = stack;
        this.endpoints = stack.endpoints();
        this.jobTimeout = jobTimeout;
        this.say = say;
    }

    /** kill -9 of a busy decoder replica and a busy sr-low replica while {@code jobs} jobs run; both restarted after. */
    Figures killReplicas(int jobs) {
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            List<String> ids = submit(submitter, "kill", jobs);
            List<StageProcess> killed = new ArrayList<>();
            long firstFault = -1;
            for (Stage s : List.of(Stage.DECODER, Stage.SR_LOW)) {
                StageProcess victim = awaitBusy(tally, s, ids);
                say.accept("kill -9 " + victim.role() + " (pid " + victim.process().pid() + ")");
                victim.process().process.destroyForcibly();
                firstFault = firstFault < 0 ? System.nanoTime() : firstFault;
                killed.add(victim);
            }
            awaitJobs(tally, ids);
            double recovery = recovery(tally, Stage.DECODER, firstFault);
            for (StageProcess p : killed) {
                waitExit(p);
                stack.restartService(p);
            }
            return figures("kill -9 of 2 replicas", tally, ids, killed.size(), recovery, t0);
        }
    }

    /** SIGTERM of the sr-low replica working on a job: it drains, the job is done there once. */
    Figures sigterm(int jobs) {
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            List<String> ids = submit(submitter, "term", jobs);
            StageProcess victim = awaitBusy(tally, Stage.SR_LOW, ids);
            List<String> inFlight = tally.inFlight(Stage.SR_LOW.id());
            say.accept("SIGTERM " + victim.role() + " with " + inFlight + " in flight at sr-low");
            long fault = System.nanoTime();
            victim.process().process.destroy();
            waitExit(victim);
            awaitJobs(tally, ids);
            stack.restartService(victim);
            int recomputed = 0;
            for (String job : ids) {
                recomputed += (int) Math.max(0, tally.count(job, Stage.SR_LOW.id(), State.STARTED) - 1);
            }
            Figures f = figures("SIGTERM mid-job", tally, ids, 1, recovery(tally, Stage.SR_LOW, fault), t0);
            return new Figures(f.scenario(), f.jobs(), f.faults(), f.completed(), f.duplicates() + recomputed,
                    f.failed(), f.recoverySeconds(), f.seconds());
        }
    }

    /** The object store stopped for {@code outageSeconds} while {@code jobs} jobs run, then started again. */
    Figures storeOutage(int jobs, int outageSeconds) {
        S3Server s3 = stack.s3Server();
        if (s3 == null) {
            throw new StackException("the store outage needs the embedded S3 server");
        }
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            List<String> ids = submit(submitter, "s3", jobs);
            awaitBusy(tally, Stage.DECODER, ids);
            say.accept("stopping S3 for " + outageSeconds + " s");
            s3.stop();
            sleep(TimeUnit.SECONDS.toMillis(outageSeconds), tally);
            s3.start();
            long back = System.nanoTime();
            say.accept("S3 is back");
            awaitJobs(tally, ids);
            return figures("S3 down " + outageSeconds + " s", tally, ids, 1, recovery(tally, null, back), t0);
        }
    }

    /** The broker frozen (SIGSTOP) for {@code pauseSeconds} while {@code jobs} jobs run, then resumed (SIGCONT). */
    Figures brokerPause(int jobs, int pauseSeconds) {
        KafkaBroker broker = stack.broker();
        if (broker == null) {
            throw new StackException("the broker pause needs the embedded broker");
        }
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            List<String> ids = submit(submitter, "kafka", jobs);
            awaitBusy(tally, Stage.DECODER, ids);
            say.accept("freezing Kafka for " + pauseSeconds + " s");
            signal("STOP", broker.process().pid());
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(pauseSeconds));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                signal("CONT", broker.process().pid());
            }
            long back = System.nanoTime();
            say.accept("Kafka runs again");
            awaitJobs(tally, ids);
            return figures("Kafka frozen " + pauseSeconds + " s", tally, ids, 1, recovery(tally, null, back), t0);
        }
    }

    private static void signal(String name, long pid) {
        try {
            Process p = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).inheritIO().start();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new StackException("kill -" + name + " " + pid + " failed");
            }
        } catch (java.io.IOException e) {
            throw new StackException("cannot run kill -" + name + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        }
    }

    /**
     * {@code count} bad records (oversized up to 2 MiB, wrong types, bad UTF-8, path-like job ids, keys of another
     * job, .npy headers that lie) spread over the stages, then one good job. Completed counts the good job;
     * failed counts the bad records that got exactly one failed status and one dead letter; duplicates counts bad
     * records with more of either.
     */
    Figures badRecords(int count) {
        long t0 = System.nanoTime();
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, endpoints.kafka());
        p.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 3 * 1024 * 1024);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        BlobStore store = BlobStore.connect(endpoints.s3(), endpoints.accessKey(), endpoints.secretKey(),
                endpoints.bucket());
        List<String> bad = new ArrayList<>();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints);
                KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                        new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                String key = "bad-" + run + "-" + i;
                bad.add(key);
                producer.send(badRecord(i, key, store));
            }
            producer.flush();
            say.accept("sent " + count + " bad records");
            long deadline = System.nanoTime() + jobTimeout.toNanos();
            while (System.nanoTime() < deadline && !bad.stream().allMatch(k -> tally.deadLetters(k) > 0
                    && tally.count(k, null, State.FAILED) > 0)) {
                tally.poll(Duration.ofMillis(500));
            }
            long afterBad = System.nanoTime();
            List<String> good = submit(submitter, "after-bad", 1);
            awaitJobs(tally, good);
            double goodSeconds = (System.nanoTime() - afterBad) / 1e9;
            sleep(2000, tally); // late duplicates would show up now
            int once = 0;
            int more = 0;
            for (String k : bad) {
                long failed = tally.count(k, null, State.FAILED);
                int letters = tally.deadLetters(k);
                if (failed == 1 && letters == 1) {
                    once++;
                } else if (failed > 1 || letters > 1) {
                    more++;
                }
            }
            for (StageProcess s : stack.services()) {
                if (!s.isAlive() || !s.ready()) {
                    throw new StackException(s.role() + " is not alive and ready after the bad records: "
                            + s.lastHealth());
                }
            }
            return new Figures("bad records", count + 1, count, good.stream().mapToInt(j -> tally.videos(j) > 0
                    ? 1 : 0).sum(), more, once, goodSeconds, (System.nanoTime() - t0) / 1e9);
        }
    }

    private ProducerRecord<String, byte[]> badRecord(int i, String key, BlobStore store) {
        String prompts = endpoints.topic("prompts");
        return switch (i % 8) {
            // oversized: 300 KiB .. 2 MiB, a valid-looking prompt inside
            case 0 -> new ProducerRecord<>(prompts, key, ("{\"jobId\":\"" + key + "\",\"prompt\":\""
                    + "a".repeat(300 * 1024 + (i * 7919 % (1748 * 1024))) + "\"}").getBytes(StandardCharsets.UTF_8));
            // wrong types
            case 1 -> new ProducerRecord<>(prompts, key, utf8(List.of(
                    "{\"jobId\":\"" + key + "\",\"prompt\":42,\"fps\":\"fast\"}", "[1,2,3]", "\"just a string\"",
                    "{\"jobId\":{\"a\":1},\"prompt\":\"x\"}", "null").get(i / 8 % 5)));
            // not UTF-8
            case 2 -> new ProducerRecord<>(prompts, key,
                    new byte[] {'{', '"', 'j', (byte) 0xc3, (byte) 0x28, (byte) 0xff, '"', '}'});
            // job ids that are paths
            case 3 -> new ProducerRecord<>(prompts, key, utf8("{\"jobId\":\""
                    + List.of(".", "..", "a/b", "../x", ".hidden").get(i / 8 % 5) + "\",\"prompt\":\"a red fish\"}"));
            // a tombstone
            case 4 -> new ProducerRecord<>(prompts, key, null);
            // another job's objects
            case 5 -> midPipeline(i, key, "jobs/t0/prior/image_embed.npy");
            // a 128-byte .npy claiming 2.1 G floats, under the job's own prefix
            default -> {
                Stage target = targetOf(i);
                String artifactKey = "jobs/" + key + "/" + previousStage(target) + "/lie.npy";
                store.put(artifactKey, lyingNpy(), "application/octet-stream");
                yield midPipeline(i, key, artifactKey);
            }
        };
    }

    /** A stage event for one of the four later stages, all of whose artifacts point at {@code artifactKey}. */
    private ProducerRecord<String, byte[]> midPipeline(int i, String key, String artifactKey) {
        Stage target = targetOf(i);
        Map<String, String> artifacts = Map.of("image_embed", artifactKey, "keyframes", artifactKey, "frames_64",
                artifactKey, "frames_256", artifactKey);
        StageEvent e = new StageEvent(PromptRequest.of(key, "a green star").withDefaults(),
                StageName.values()[target.ordinal() - 1], artifacts, Map.of(), Map.of(), Map.of());
        return new ProducerRecord<>(endpoints.topic(target.inTopic), key, utf8(EventCodec.toJson(e)));
    }

    private static Stage targetOf(int i) {
        return Stage.values()[1 + (i / 8) % 4];
    }

    private static String previousStage(Stage s) {
        return Stage.values()[s.ordinal() - 1].id();
    }

    static byte[] lyingNpy() {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 7000, 6400), }";
        int total = 10 + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        String header = dict + " ".repeat(padded - total) + "\n";
        ByteBuffer b = ByteBuffer.allocate(padded).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.US_ASCII));
        return b.array();
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private List<String> submit(JobSubmitter submitter, String tag, int jobs) {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < jobs; i++) {
            String id = "chaos-" + tag + "-" + run + "-" + i;
            submitter.submit(new PromptRequest(id, "a red fish swimming left", null, (long) i, null, null, ONE_STEP));
            ids.add(id);
        }
        say.accept("submitted " + jobs + " jobs (" + tag + ")");
        return ids;
    }

    /**
     * Waits until a replica of {@code stage} has a job in flight (by its metrics) and returns it; when every job
     * of {@code ids} got past the stage unseen, returns its first replica, so that the fault still happens.
     */
    private StageProcess awaitBusy(Tally tally, Stage stage, List<String> ids) {
        long deadline = System.nanoTime() + jobTimeout.toNanos();
        while (System.nanoTime() < deadline) {
            tally.poll(Duration.ofMillis(100));
            if (ids.stream().allMatch(j -> tally.count(j, stage.id(), State.DONE) > 0)) {
                say.accept("every job got past " + stage.id() + " before a replica was seen busy");
                return stack.services().stream().filter(p -> p.stage == stage).findFirst().orElseThrow();
            }
            for (StageProcess p : stack.services()) {
                if (p.stage == stage && p.isAlive()) {
                    try {
                        if (PromMetrics.scrape(p.url()).sum("mav_stage_in_flight", Map.of()) > 0) {
                            return p;
                        }
                    } catch (RuntimeException notAnswering) {
                        // try the next
                    }
                }
            }
        }
        throw new StackException("no replica of " + stage.id() + " took a job within " + jobTimeout.toSeconds() + " s");
    }

    private void awaitJobs(Tally tally, List<String> ids) {
        long deadline = System.nanoTime() + jobTimeout.toNanos();
        while (System.nanoTime() < deadline) {
            tally.poll(Duration.ofMillis(500));
            if (ids.stream().allMatch(j -> tally.videos(j) > 0 || tally.count(j, null, State.FAILED) > 0)) {
                sleep(2000, tally); // late duplicates would show up now
                return;
            }
        }
        say.accept("timed out waiting for " + ids.stream().filter(j -> tally.videos(j) == 0).toList());
    }

    /** Seconds from the fault to the first {@code done} after it (of {@code stage}, or any stage when null). */
    private static double recovery(Tally tally, Stage stage, long faultNanos) {
        long first = -1;
        for (Stage s : stage == null ? List.of(Stage.values()) : List.of(stage)) {
            long t = tally.firstDoneAfter(s.id(), faultNanos);
            first = t < 0 ? first : first < 0 ? t : Math.min(first, t);
        }
        return first < 0 ? -1 : (first - faultNanos) / 1e9;
    }

    private static Figures figures(String scenario, Tally tally, List<String> ids, int faults, double recovery,
            long t0) {
        int completed = 0;
        int duplicates = 0;
        int failed = 0;
        for (String j : ids) {
            completed += tally.videos(j) > 0 ? 1 : 0;
            duplicates += Math.max(0, tally.videos(j) - 1);
            duplicates += (int) Math.max(0, tally.count(j, Stage.SR_HIGH.id(), State.DONE) - 1);
            failed += tally.count(j, null, State.FAILED) > 0 ? 1 : 0;
        }
        return new Figures(scenario, ids.size(), faults, completed, duplicates, failed, recovery,
                (System.nanoTime() - t0) / 1e9);
    }

    private static void waitExit(StageProcess p) {
        try {
            p.process().process.onExit().get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new StackException(p.role() + " did not exit: " + e);
        }
    }

    private static void sleep(long ms, Tally tally) {
        long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        while (System.nanoTime() < until) {
            tally.poll(Duration.ofMillis(Math.max(1, Math.min(500, (until - System.nanoTime()) / 1_000_000))));
        }
    }
}
