package mav.local;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mav.common.event.EventCodec;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageName;
import mav.common.event.StatusEvent.State;
import mav.common.store.BlobStore;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Fault injection against a running local stack: kill -9 of busy stage replicas, SIGTERM of a busy replica, the
 * object store stopped and started again, the object store frozen, the broker frozen, and a flood of malformed and
 * hostile records. Each scenario submits real jobs, counts what a read_committed consumer of the results sees
 * ({@link Tally}) and returns its figures; ChaosIT asserts on them, {@code ./mav chaos} prints them.
 */
final class Chaos {
    /** A condition of a scenario beyond its counts (readiness, log lines), with what was seen. */
    record Check(String name, boolean passed, String detail) {
        String line() {
            return (passed ? "ok:   " : "FAIL: ") + name + ": " + detail;
        }
    }

    /**
     * What one scenario did and what came of it. Duplicates count, per job, records on the videos topic beyond one
     * and {@code done} statuses beyond one at each stage. Recovery: for kill -9, from the kill until another replica
     * started the victim's job again; for the outages, from the end of the fault to the first {@code done} of any
     * stage; for SIGTERM, to the first {@code done} at the stopped replica's stage; for the bad records, the good
     * job's time after them.
     */
    record Figures(String scenario, int jobs, int faults, int completed, int duplicates, int failed,
            double recoverySeconds, double seconds, List<Check> checks) {
        static String header() {
            return String.format("%-22s %5s %6s %9s %10s %6s %9s %8s", "scenario", "jobs", "faults", "completed",
                    "duplicates", "failed", "recovery", "time");
        }

        Figures with(List<Check> more) {
            List<Check> all = new ArrayList<>(checks);
            all.addAll(more);
            return new Figures(scenario, jobs, faults, completed, duplicates, failed, recoverySeconds, seconds,
                    List.copyOf(all));
        }

        /**
         * Every job completed once and none failed; for the bad records, every one failed once with one dead letter
         * and the good job after them completed; and every check passed.
         */
        boolean passed() {
            return (scenario.equals("bad records") ? failed == faults && duplicates == 0 && completed == 1
                    : completed == jobs && duplicates == 0 && failed == 0) && checks.stream().allMatch(Check::passed);
        }

        String line() {
            return String.format("%-22s %5d %6d %9d %10d %6d %8s %7.0fs", scenario, jobs, faults, completed,
                    duplicates, failed, recoverySeconds < 0 ? "-" : String.format("%.1fs", recoverySeconds), seconds);
        }
    }

    /** A replica's readiness probe reads the store with a 0.5 s timeout every second: DOWN within this of a freeze. */
    private static final double READINESS_DOWN_SECONDS = 5;
    /** A stage's one line for a rejected record: job, stage, reason category, topic-partition@offset, reason. */
    private static final Pattern REJECTED = Pattern.compile("WARN(?:ING)?\\s+\\[[^\\]]*] \\([^)]*\\) "
            + "job (\\S+) failed in stage (\\S+) \\(([a-z_]+), (\\S+-\\d+@\\d+)\\): \\S.*");
    /** A line of a Java stack trace. */
    private static final Pattern STACK_LINE = Pattern.compile("^\\s+at [\\w$.<>/]+\\(.*\\)$|^Caused by: ");
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

    /** A replica killed, and when. */
    private record Kill(StageProcess victim, long atNanos) {
    }

    /**
     * kill -9 of a busy decoder replica and a busy sr-low replica while {@code jobs} jobs run; both restarted after.
     * Recovery is the longer of the two takeovers: from a kill until another replica started the victim's job.
     */
    Figures killReplicas(int jobs) {
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            List<String> ids = submit(submitter, "kill", jobs);
            List<Kill> kills = new ArrayList<>();
            for (Stage s : List.of(Stage.DECODER, Stage.SR_LOW)) {
                StageProcess victim = awaitBusy(tally, s, ids);
                say.accept("kill -9 " + victim.role() + " (pid " + victim.process().pid() + ")");
                victim.process().process.destroyForcibly();
                kills.add(new Kill(victim, System.nanoTime()));
            }
            awaitJobs(tally, ids);
            double recovery = -1;
            for (Kill k : kills) {
                recovery = Math.max(recovery, takeover(tally, k, ids));
            }
            for (Kill k : kills) {
                waitExit(k.victim());
                stack.restartService(k.victim());
            }
            return figures("kill -9 of 2 replicas", tally, ids, kills.size(), recovery, t0);
        }
    }

    /**
     * Seconds from the kill until another replica started the victim's job again: the job that its stage started a
     * second time after the kill (the victim had started it and never committed it). -1, said, when no job was.
     */
    private double takeover(Tally tally, Kill k, List<String> ids) {
        String stage = k.victim().stage.id();
        long first = -1;
        String job = null;
        for (String j : ids) {
            List<Long> starts = tally.arrivals(j, stage, State.STARTED);
            long again = starts.size() < 2 ? -1 : starts.stream().skip(1).filter(t -> t > k.atNanos()).findFirst()
                    .orElse(-1L);
            if (again > 0 && (first < 0 || again < first)) {
                first = again;
                job = j;
            }
        }
        if (first < 0) {
            say.accept("no job of " + k.victim().role() + " was taken up again at " + stage
                    + ": it had none in flight when it was killed");
            return -1;
        }
        double seconds = (first - k.atNanos()) / 1e9;
        say.accept(String.format("%s's job %s started again at %s %.1f s after the kill", k.victim().role(), job,
                stage, seconds));
        return seconds;
    }

    /** SIGTERM of the sr-low replica working on a job: it drains, the job is done there once. */
    Figures sigterm(int jobs) {
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            awaitGroupJoined(Stage.SR_LOW);
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
                    f.failed(), f.recoverySeconds(), f.seconds(), f.checks());
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

    /**
     * The object store frozen (SIGSTOP: connections open, no answer) for {@code freezeSeconds} while {@code jobs}
     * jobs run, then resumed (SIGCONT). Meanwhile every stage replica's readiness is asked, round after round: each
     * must answer within a second, say DOWN (503) soon after the freeze and keep saying it.
     */
    Figures storeFreeze(int jobs, int freezeSeconds) {
        S3Server s3 = stack.s3Server();
        if (s3 == null) {
            throw new StackException("the store freeze needs the embedded S3 server");
        }
        return freeze("S3", "s3-freeze", s3.process(), jobs, freezeSeconds, true);
    }

    /** The broker frozen (SIGSTOP) for {@code pauseSeconds} while {@code jobs} jobs run, then resumed (SIGCONT). */
    Figures brokerPause(int jobs, int pauseSeconds) {
        KafkaBroker broker = stack.broker();
        if (broker == null) {
            throw new StackException("the broker pause needs the embedded broker");
        }
        return freeze("Kafka", "kafka", broker.process(), jobs, pauseSeconds, false);
    }

    /** {@code server} frozen for {@code seconds} once a decoder replica is busy; readiness watched if asked. */
    private Figures freeze(String what, String tag, ChildProcess server, int jobs, int seconds, boolean watchReadiness) {
        long t0 = System.nanoTime();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            List<String> ids = submit(submitter, tag, jobs);
            awaitBusy(tally, Stage.DECODER, ids);
            say.accept("freezing " + what + " for " + seconds + " s");
            long frozen = System.nanoTime();
            long until = frozen + TimeUnit.SECONDS.toNanos(seconds);
            List<Check> checks = List.of();
            signal("STOP", server.pid());
            try {
                if (watchReadiness) {
                    checks = watchReadiness(frozen, until);
                } else {
                    ChildProcess.sleep(Math.max(0, (until - System.nanoTime()) / 1_000_000));
                }
            } finally {
                signal("CONT", server.pid());
            }
            long back = System.nanoTime();
            say.accept(what + " runs again");
            awaitJobs(tally, ids);
            return figures(what + " frozen " + seconds + " s", tally, ids, 1, recovery(tally, null, back), t0)
                    .with(checks);
        }
    }

    /** Asks every stage replica's {@code /q/health/ready} until {@code untilNanos}; see {@link #storeFreeze}. */
    private List<Check> watchReadiness(long frozenNanos, long untilNanos) {
        List<StageProcess> replicas = stack.services().stream().filter(StageProcess::isAlive).toList();
        Map<String, Long> firstDown = new LinkedHashMap<>();
        List<String> slow = new ArrayList<>();
        List<String> upAgain = new ArrayList<>();
        int answers = 0;
        long slowestMs = 0;
        while (System.nanoTime() < untilNanos) {
            for (StageProcess p : replicas) {
                long asked = System.nanoTime();
                int code = p.readyStatus(Duration.ofSeconds(3));
                long ms = (System.nanoTime() - asked) / 1_000_000;
                double at = (asked - frozenNanos) / 1e9;
                answers++;
                slowestMs = Math.max(slowestMs, ms);
                if (code < 0 || ms >= 1000) {
                    slow.add(String.format("%s at +%.1f s: %s after %d ms", p.role(), at,
                            code < 0 ? "no answer" : "HTTP " + code, ms));
                } else if (code == 503) {
                    firstDown.putIfAbsent(p.role(), asked - frozenNanos);
                } else if (firstDown.containsKey(p.role())) {
                    upAgain.add(String.format("%s at +%.1f s: HTTP %d", p.role(), at, code));
                }
            }
            ChildProcess.sleep(200);
        }
        List<String> neverDown = replicas.stream().map(StageProcess::role).filter(r -> !firstDown.containsKey(r))
                .toList();
        double allDown = firstDown.values().stream().mapToLong(Long::longValue).max().orElse(0) / 1e9;
        return List.of(
                new Check("readiness answers within 1 s", slow.isEmpty(), String.format(
                        "%d answers from %d replicas, slowest %d ms%s", answers, replicas.size(), slowestMs,
                        slow.isEmpty() ? "" : "; late: " + slow.subList(0, Math.min(5, slow.size())))),
                new Check("every replica DOWN (503) within " + (int) READINESS_DOWN_SECONDS
                        + " s of the freeze and until its end", neverDown.isEmpty() && upAgain.isEmpty()
                        && allDown <= READINESS_DOWN_SECONDS, String.format("all DOWN %.1f s after the freeze%s%s",
                        allDown, neverDown.isEmpty() ? "" : "; never DOWN: " + neverDown,
                        upAgain.isEmpty() ? "" : "; UP again: " + upAgain.subList(0, Math.min(5, upAgain.size())))));
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
        Map<String, String> stageOf = new HashMap<>();
        Map<Path, Long> logStarts = logSizes();
        try (Tally tally = new Tally(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints);
                KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                        new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                String key = "bad-" + run + "-" + i;
                bad.add(key);
                stageOf.put(key, i % 8 < 5 ? Stage.PRIOR.id() : targetOf(i).id());
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
                    ? 1 : 0).sum(), more, once, goodSeconds, (System.nanoTime() - t0) / 1e9,
                    logChecks(logStarts, stageOf));
        }
    }

    /** The size of each stage replica's log now, so that a scenario reads only what it made them write. */
    private Map<Path, Long> logSizes() {
        Map<Path, Long> sizes = new LinkedHashMap<>();
        for (StageProcess p : stack.services()) {
            Path log = p.process().log;
            try {
                sizes.put(log, Files.exists(log) ? Files.size(log) : 0L);
            } catch (IOException e) {
                throw new StackException("cannot read " + log + ": " + e.getMessage(), e);
            }
        }
        return sizes;
    }

    /**
     * What the stages logged since {@code starts} about the rejected records: one WARN line each, at the stage it
     * was sent to, naming its job, stage, reason and offset; and no stack trace (those are logged at DEBUG).
     */
    static List<Check> logChecks(Map<Path, Long> starts, Map<String, String> stageOf) {
        Map<String, List<String>> lines = new HashMap<>();
        List<String> stack = new ArrayList<>();
        for (Map.Entry<Path, Long> e : starts.entrySet()) {
            for (String line : appended(e.getKey(), e.getValue())) {
                Matcher m = REJECTED.matcher(line);
                if (m.find() && stageOf.containsKey(m.group(1))) {
                    lines.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(m.group(2));
                } else if (STACK_LINE.matcher(line).find()) {
                    stack.add(e.getKey().getFileName() + ": " + line.strip());
                }
            }
        }
        List<String> wrong = new ArrayList<>();
        int once = 0;
        for (Map.Entry<String, String> e : stageOf.entrySet()) {
            List<String> at = lines.getOrDefault(e.getKey(), List.of());
            if (at.equals(List.of(e.getValue()))) {
                once++;
            } else {
                wrong.add(e.getKey() + " (sent to " + e.getValue() + "): WARN lines from " + at);
            }
        }
        return List.of(
                new Check("one WARN line per rejected record naming job, stage, reason and offset", wrong.isEmpty(),
                        once + " of " + stageOf.size() + (wrong.isEmpty() ? "" : "; " + wrong.subList(0,
                                Math.min(5, wrong.size())))),
                new Check("no stack trace in the stage logs", stack.isEmpty(), stack.size() + " stack-trace lines"
                        + (stack.isEmpty() ? "" : ", first: " + stack.get(0))));
    }

    private static List<String> appended(Path log, long from) {
        try (var in = Files.newInputStream(log)) {
            in.skipNBytes(Math.min(from, Files.size(log)));
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        } catch (IOException e) {
            throw new StackException("cannot read " + log + ": " + e.getMessage(), e);
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
     * Waits until a replica of {@code stage} has a job in flight (by its metrics) whose {@code started} status is
     * out (the statuses show as many jobs in flight at the stage as its replicas hold), and returns it, asking the
     * replicas over and over for as long as a job of {@code ids} has yet to pass the stage. Throws when none was
     * seen busy: a fault on an idle replica would prove nothing.
     */
    private StageProcess awaitBusy(Tally tally, Stage stage, List<String> ids) {
        long deadline = System.nanoTime() + jobTimeout.toNanos();
        int scrapes = 0;
        while (System.nanoTime() < deadline) {
            StageProcess busy = null;
            double held = 0;
            for (StageProcess p : stack.services()) {
                if (p.stage == stage && p.isAlive()) {
                    scrapes++;
                    try {
                        double n = PromMetrics.scrape(p.url()).sum("mav_stage_in_flight", Map.of());
                        busy = busy == null && n > 0 ? p : busy;
                        held += n;
                    } catch (RuntimeException notAnswering) {
                        // try the next
                    }
                }
            }
            tally.poll(Duration.ofMillis(20));
            if (busy != null && tally.inFlight(stage.id()).size() >= held) {
                return busy;
            }
            if (ids.stream().allMatch(j -> tally.count(j, stage.id(), State.DONE) > 0
                    || tally.count(j, null, State.FAILED) > 0)) {
                throw new StackException("no replica of " + stage.id() + " was seen with a job in flight (" + scrapes
                        + " scrapes of mav_stage_in_flight) while the " + ids.size() + " jobs passed it: the fault"
                        + " would hit an idle replica; give the scenario more jobs or slower models");
            }
        }
        throw new StackException("no replica of " + stage.id() + " took a job within " + jobTimeout.toSeconds()
                + " s (" + scrapes + " scrapes of mav_stage_in_flight)");
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
            for (Stage s : Stage.values()) {
                duplicates += (int) Math.max(0, tally.count(j, s.id(), State.DONE) - 1);
            }
            failed += tally.count(j, null, State.FAILED) > 0 ? 1 : 0;
        }
        return new Figures(scenario, ids.size(), faults, completed, duplicates, failed, recovery,
                (System.nanoTime() - t0) / 1e9, List.of());
    }

    /**
     * Until every live replica of {@code stage} is a member of its stable consumer group. A replica restarted by an
     * earlier scenario is ready before its consumer has joined; joining later, it would take partitions, and a job in
     * flight with them, from a replica that is draining, and the job would be computed again.
     */
    private void awaitGroupJoined(Stage stage) {
        long replicas = stack.services().stream().filter(p -> p.stage == stage && p.isAlive()).count();
        long deadline = System.nanoTime() + jobTimeout.toNanos();
        try (Admin admin = KafkaBroker.admin(endpoints.kafka())) {
            while (System.nanoTime() < deadline) {
                ConsumerGroupDescription group = admin.describeConsumerGroups(List.of(stage.group)).all().get()
                        .get(stage.group);
                if (group.groupState() == GroupState.STABLE && group.members().size() >= replicas) {
                    return;
                }
                Thread.sleep(250);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted waiting for " + stage.group + " to hold its replicas");
        } catch (ExecutionException e) {
            throw new StackException("cannot describe consumer group " + stage.group + ": " + e.getCause());
        }
        throw new StackException(stage.group + " did not hold its " + replicas + " replicas within " + jobTimeout);
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
