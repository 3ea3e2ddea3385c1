package mav.local;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import mav.common.event.PromptRequest;
import mav.common.event.StageEvent;
import mav.common.event.StageTiming;
import mav.common.event.StatusEvent;

/**
 * {@code ./mav bench --jobs N}: submits N jobs at once and reports, per stage, throughput (jobs/min between the
 * stage's first start and last finish, from status timestamps) and job latency p50/p95 (the {@code totalMs} timings
 * of the final events), then end to end latency and the share of each job's time spent outside model inference:
 * {@code (total - sum of inferenceMs) / total}.
 */
final class Bench {
    /** Prompts of the synthetic world the shipped models know: every colour, shape and direction, some unseen. */
    private static final String[] PROMPTS = {"a red fish swimming left", "a green arrow pointing up",
        "a blue circle on a white background", "an orange star on a gray background", "a purple fish swimming right",
        "a yellow triangle", "a red arrow pointing down on a black background", "a green square on a white background"};

    /** What was seen of one job. */
    static final class JobRecord {
        final String jobId;
        Instant queued;
        Instant finished;
        StageEvent result;
        String failure;
        final Map<Stage, Instant> started = new EnumMap<>(Stage.class);
        final Map<Stage, Instant> done = new EnumMap<>(Stage.class);

        JobRecord(String jobId) {
            this.jobId = jobId;
        }

        boolean over() {
            return result != null || failure != null;
        }
    }

    private Bench() {
    }

    static int run(Args a, Layout layout, PrintStream out) {
        a.allowOnly(Mav.union(Mav.STACK_FLAGS, Set.of("jobs", "steps", "seed", "fps", "timeout", "prompt", "plain")));
        int n = a.intValue("jobs", 0);
        if (n < 1) {
            throw new Args.UsageException("bench needs --jobs N (N >= 1)");
        }
        Properties running = LocalStack.running(layout);
        boolean external = a.has("kafka") || a.has("s3");
        LocalStack stack = null;
        Endpoints endpoints;
        if (running != null && !external) {
            endpoints = LocalStack.endpoints(running);
            out.println("mav: benchmarking the running stack (" + endpoints.kafka() + ")"
                    + (a.has("replicas") ? "; --replicas applies only to a stack that bench starts" : ""));
        } else {
            stack = LocalStack.start(layout, StackOptions.from(a, layout), s -> out.println("mav: " + s));
            endpoints = stack.endpoints();
        }
        try {
            Map<String, JobRecord> jobs = runJobs(a, endpoints, n, out);
            out.print(report(jobs, a.get("replicas", "")));
            return jobs.values().stream().allMatch(j -> j.result != null) ? 0 : 1;
        } finally {
            if (stack != null) {
                out.println("mav: stopping the stack");
                stack.close();
            }
        }
    }

    /**
     * {@code ./mav bench --batching}: common/bench/batch_bench.sh, in a JVM of its own (this one has no ONNX Runtime):
     * each stage's sampling loop for 1, 2 and 4 jobs in flight, continuous batching off and on, one table; each job
     * makes at most {@code --max-calls} (10) model calls, as many as its stage makes per job when that is fewer.
     */
    static int batching(Args a, Layout layout, PrintStream out) {
        a.allowOnly(Set.of("batching", "stages", "models", "ort-threads", "batch-wait-ms", "max-calls", "state-dir"));
        Path models = a.has("models") ? Path.of(a.get("models")).toAbsolutePath().normalize() : layout.defaultModels();
        List<String> cmd = new ArrayList<>(List.of("sh", layout.root().resolve("common/bench/batch_bench.sh").toString(),
                models.toString(), String.valueOf(a.intValue("ort-threads", 0)),
                String.valueOf(a.intValue("batch-wait-ms", 1000)), String.valueOf(a.intValue("max-calls", 10))));
        for (String s : a.get("stages", "decoder,interpolation").split(",")) {
            Stage stage = Stage.parse(s.trim());
            if (!MODEL_OF.containsKey(stage)) {
                throw new Args.UsageException("--stages: " + stage.id() + " samples embeddings, not frames; the batching"
                        + " bench takes decoder, interpolation, sr-low and sr-high");
            }
            cmd.add(MODEL_OF.get(stage));
        }
        out.println("mav: " + String.join(" ", cmd));
        try {
            return new ProcessBuilder(cmd).inheritIO().start().waitFor();
        } catch (java.io.IOException e) {
            throw new StackException("cannot run " + cmd.get(1) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 1;
        }
    }

    /** The denoiser each stage samples with. */
    private static final Map<Stage, String> MODEL_OF = Map.of(Stage.DECODER, "decoder", Stage.INTERPOLATION,
            "interpolator", Stage.SR_LOW, "sr_low", Stage.SR_HIGH, "sr_high");

    static Map<String, JobRecord> runJobs(Args a, Endpoints endpoints, int n, PrintStream out) {
        String run = Mav.newJobId().replace("job-", "bench-");
        Map<String, Integer> steps = Mav.steps(a.get("steps"));
        List<PromptRequest> requests = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Long seed = a.longValue("seed");
            requests.add(new PromptRequest(run + "-" + i, a.get("prompt", PROMPTS[i % PROMPTS.length]), null,
                    seed == null ? null : seed + i, a.has("fps") ? a.intValue("fps", 8) : null, null, steps).validate());
        }
        return runJobs(requests, endpoints, Duration.ofSeconds(a.intValue("timeout", 3600)), out);
    }

    /** Submits the requests at once and follows them until each has its video or failed, or the timeout. */
    static Map<String, JobRecord> runJobs(List<PromptRequest> requests, Endpoints endpoints, Duration timeout,
            PrintStream out) {
        Map<String, JobRecord> jobs = new LinkedHashMap<>();
        int n = requests.size();
        try (StatusWatcher watcher = new StatusWatcher(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            for (PromptRequest r : requests) {
                JobRecord rec = new JobRecord(r.jobId());
                rec.queued = Instant.now();
                jobs.put(r.jobId(), rec);
                submitter.submit(r);
            }
            out.println("mav: submitted " + n + " jobs (" + requests.get(0).jobId() + (n > 1 ? " ..." : "")
                    + "), waiting");
            long deadline = System.nanoTime() + timeout.toNanos();
            int[] finished = {0};
            StatusWatcher.Listener l = new StatusWatcher.Listener() {
                @Override
                public void status(StatusEvent s) {
                    JobRecord j = jobs.get(s.jobId());
                    Stage st = Stage.byId(s.stage());
                    if (j == null || st == null || s.state() == null) {
                        return;
                    }
                    switch (s.state()) {
                        case QUEUED -> j.queued = s.timestamp();
                        case STARTED -> j.started.putIfAbsent(st, s.timestamp());
                        case DONE -> j.done.putIfAbsent(st, s.timestamp());
                        case FAILED, CANCELLED -> {
                            if (!j.over()) {
                                j.failure = st.id() + ": " + s.message();
                                finished[0]++;
                                out.println("mav: " + j.jobId + " " + s.state().id() + " in " + st.id() + ": " + s.message());
                            }
                        }
                        default -> {
                        }
                    }
                }

                @Override
                public void video(String jobId, StageEvent e, String json) {
                    JobRecord j = jobs.get(jobId);
                    if (j != null && !j.over()) {
                        j.result = e;
                        j.finished = Instant.now();
                        finished[0]++;
                        out.printf("mav: %d/%d done (%s)%n", finished[0], n, jobId);
                    }
                }
            };
            while (finished[0] < n && System.nanoTime() < deadline) {
                watcher.poll(Duration.ofMillis(500), l);
            }
            // the last done statuses may trail the final event by a moment
            long until = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < until) {
                watcher.poll(Duration.ofMillis(200), l);
            }
        }
        return jobs;
    }

    static String report(Map<String, JobRecord> jobs, String replicas) {
        StringBuilder sb = new StringBuilder();
        List<JobRecord> ok = jobs.values().stream().filter(j -> j.result != null).toList();
        sb.append(String.format("%nbench: %d jobs, %d completed, %d failed%s%n", jobs.size(), ok.size(),
                jobs.values().stream().filter(j -> j.failure != null).count(),
                replicas.isBlank() ? "" : ", replicas " + replicas));
        sb.append(String.format("%-14s %6s %9s %9s %9s %9s %9s %9s%n", "stage", "jobs", "jobs/min", "p50 s", "p95 s",
                "infer p50", "fetch+st", "steps"));
        for (Stage s : Stage.values()) {
            List<Double> totals = new ArrayList<>();
            List<Double> infer = new ArrayList<>();
            double io = 0;
            Instant first = null;
            Instant last = null;
            int count = 0;
            for (JobRecord j : jobs.values()) {
                Instant st = j.started.get(s);
                Instant dn = j.done.get(s);
                if (st != null && dn != null) {
                    count++;
                    first = first == null || st.isBefore(first) ? st : first;
                    last = last == null || dn.isAfter(last) ? dn : last;
                }
                StageTiming t = j.result == null ? null : j.result.timings().get(s.name);
                if (t != null) {
                    totals.add(t.totalMs() / 1000.0);
                    infer.add(t.inferenceMs() / 1000.0);
                    io += (t.fetchMs() + t.storeMs()) / 1000.0;
                }
            }
            double span = first == null ? 0 : Duration.between(first, last).toMillis() / 1000.0;
            double rate = span > 0 ? count / span * 60 : 0;
            Integer steps = ok.isEmpty() ? null : ok.get(0).result.request().steps().get(s.name.stepsKey());
            sb.append(String.format("%-14s %6d %9.2f %9s %9s %9s %9s %9s%n", s.id(), count, rate, fmt(pct(totals, 50)),
                    fmt(pct(totals, 95)), fmt(pct(infer, 50)), totals.isEmpty() ? "-" : fmt(io / totals.size()),
                    steps == null ? "default" : steps));
        }
        List<Double> e2e = new ArrayList<>();
        List<Double> outside = new ArrayList<>();
        List<Double> queueing = new ArrayList<>();
        Instant first = null;
        Instant last = null;
        for (JobRecord j : ok) {
            Instant end = j.done.getOrDefault(Stage.SR_HIGH, j.finished);
            double total = Duration.between(j.queued, end).toMillis();
            if (total <= 0) {
                continue;
            }
            double inference = j.result.timings().values().stream().mapToLong(StageTiming::inferenceMs).sum();
            double inStages = j.result.timings().values().stream().mapToLong(StageTiming::totalMs).sum();
            e2e.add(total / 1000.0);
            outside.add((total - inference) / total);
            queueing.add(Math.max(0, total - inStages) / total);
            first = first == null || j.queued.isBefore(first) ? j.queued : first;
            last = last == null || end.isAfter(last) ? end : last;
        }
        double span = first == null ? 0 : Duration.between(first, last).toMillis() / 1000.0;
        sb.append(String.format("%-14s %6d %9.2f %9s %9s%n", "end-to-end", e2e.size(), span > 0 ? e2e.size() / span * 60 : 0,
                fmt(pct(e2e, 50)), fmt(pct(e2e, 95))));
        sb.append(String.format("%ntime outside model inference, (total - sum inferenceMs) / total per job:"
                + " mean %s, p50 %s, p95 %s%n", percent(mean(outside)), percent(pct(outside, 50)), percent(pct(outside, 95))));
        sb.append(String.format("  split of job time (means): model inference %s, in a stage but outside inference (fetch,"
                + " store, encode, scheduler) %s, between stages (queues, Kafka) %s%n",
                percent(1 - mean(outside)), percent(mean(outside) - mean(queueing)), percent(mean(queueing))));
        return sb.toString();
    }

    static double pct(List<Double> values, double p) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> v = new ArrayList<>(values);
        Collections.sort(v);
        int rank = (int) Math.ceil(p / 100.0 * v.size());
        return v.get(Math.max(0, Math.min(v.size() - 1, rank - 1)));
    }

    static double mean(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.2f", v);
    }

    private static String percent(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.1f%%", v * 100);
    }
}
