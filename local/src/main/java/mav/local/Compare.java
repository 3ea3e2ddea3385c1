package mav.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import mav.common.event.PromptRequest;
import mav.common.event.StageTiming;

/**
 * {@code ./mav bench --compare}: each stage's model time for the README's default job, three ways in one run: the
 * PyTorch reference of the same weights (Debian's torch, {@code mav_training.time_models}), ONNX Runtime Java in a
 * bare JVM ({@code training/tools/ort_check.sh plan}), both on the calls {@link ModelPlan} lists, and the stage in
 * its running service (the {@code inferenceMs} the job's final event records, after one warm-up job). The two bare
 * runs go first, before a stack of bench's own starts, so that nothing of the stack competes with them.
 */
final class Compare {
    static final String PROMPT = "a blue fish swimming left";
    static final long SEED = 7;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Compare() {
    }

    static int run(Args a, Layout layout, PrintStream out) {
        a.allowOnly(Mav.union(Mav.STACK_FLAGS, Set.of("compare", "threads", "timed-calls", "timeout", "plain")));
        int threads = a.intValue("threads", 2);
        Path models = a.has("models") ? Path.of(a.get("models")).toAbsolutePath().normalize() : layout.defaultModels();
        Path plan = layout.stateDir().resolve("bench/model-plan.json");
        int timed = a.intValue("timed-calls", 0);
        ModelPlan.of(models).sampled(timed).write(plan);
        out.println("mav: model plan (calls and shapes of one default job) in " + plan + "; " + threads
                + " threads; " + (timed > 0 ? "at most " + timed + " calls per model timed, scaled to the job's" : "every call timed")
                + "; load average before: " + loadAverage());

        out.println("mav: PyTorch reference (mav_training.time_models) ...");
        Map<String, Double> torch = times(new ProcessBuilder(System.getenv().getOrDefault("MAV_PYTHON",
                "/usr/bin/python3"), "-m", "mav_training.time_models", plan.toString(), "--threads",
                String.valueOf(threads)).directory(layout.root().resolve("training").toFile()), threads, out);
        out.println("mav: ONNX Runtime in a bare JVM (training/tools/ort_check.sh plan) ...");
        ProcessBuilder ortCheck = new ProcessBuilder("sh", layout.root().resolve("training/tools/ort_check.sh").toString(),
                "plan", plan.toString(), models.toString(), String.valueOf(threads));
        // the services' session options: no spinning unless MAV_ORT_SPINNING=true
        ortCheck.environment().put("ORT_ALLOW_SPINNING",
                "true".equalsIgnoreCase(System.getenv("MAV_ORT_SPINNING")) ? "1" : "0");
        Map<String, Double> ort = times(ortCheck, threads, out);

        out.println("mav: the same job through the services: \"" + PROMPT + "\" --seed " + SEED + " --fps "
                + ModelPlan.FPS);
        Properties running = LocalStack.running(layout);
        LocalStack stack = null;
        Endpoints endpoints;
        if (running != null && !(a.has("kafka") || a.has("s3"))) {
            endpoints = LocalStack.endpoints(running);
            out.println("mav: using the running stack (" + endpoints.kafka() + ")");
        } else {
            stack = LocalStack.start(layout, StackOptions.from(a, layout), s -> out.println("mav: " + s));
            endpoints = stack.endpoints();
        }
        Bench.JobRecord job;
        Duration timeout = Duration.ofSeconds(a.intValue("timeout", 3600));
        try {
            // one job first, as the bare runs make one call per model first: a stack's first job also pays its
            // sessions' first calls at the job's shapes and its clients' first requests, several seconds in all
            Bench.JobRecord warmUp = runJob("compare-warm-up-", endpoints, timeout, out);
            if (warmUp.result == null) {
                out.println("mav: the warm-up job did not complete: " + warmUp.failure);
                return 1;
            }
            job = runJob("compare-", endpoints, timeout, out);
        } finally {
            if (stack != null) {
                out.println("mav: stopping the stack");
                stack.close();
            }
        }
        if (job.result == null) {
            out.println("mav: the job did not complete: " + job.failure);
            return 1;
        }
        Map<String, Double> service = new LinkedHashMap<>();
        for (Stage s : Stage.values()) {
            StageTiming t = job.result.timings().get(s.name);
            service.put(s.id(), t == null ? Double.NaN : t.inferenceMs() / 1000.0);
        }
        double wall = Duration.between(job.queued, job.finished).toMillis() / 1000.0;
        out.print(table(torch, ort, service, wall, threads));
        out.println("load average after: " + loadAverage());
        return 0;
    }

    private static Bench.JobRecord runJob(String idPrefix, Endpoints endpoints, Duration timeout, PrintStream out) {
        String id = Mav.newJobId().replace("job-", idPrefix);
        PromptRequest request = new PromptRequest(id, PROMPT, null, SEED, ModelPlan.FPS, null, Map.of()).validate();
        return Bench.runJobs(List.of(request), endpoints, timeout, out).get(id);
    }

    /** Runs a timing tool and sums the seconds of its JSON lines per stage; its other output goes to ours. */
    private static Map<String, Double> times(ProcessBuilder pb, int threads, PrintStream out) {
        pb.environment().put("OMP_NUM_THREADS", String.valueOf(threads));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        Map<String, Double> perStage = new LinkedHashMap<>();
        try {
            Process p = pb.start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    if (!line.startsWith("{")) {
                        out.println("  " + line);
                        continue;
                    }
                    JsonNode n = JSON.readTree(line);
                    perStage.merge(n.get("stage").asText(), n.get("seconds").asDouble(), Double::sum);
                }
            }
            if (p.waitFor() != 0) {
                throw new StackException(String.join(" ", pb.command()) + " exited with " + p.exitValue());
            }
        } catch (IOException e) {
            throw new StackException("cannot run " + String.join(" ", pb.command()) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted while timing models", e);
        }
        return perStage;
    }

    static String table(Map<String, Double> torch, Map<String, Double> ort, Map<String, Double> service, double wall,
            int threads) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("%nmodel time of one default job, seconds (%d threads; PyTorch and ONNX Runtime: the"
                + " stage's model calls alone; service: inferenceMs of the job's final event)%n", threads));
        sb.append(String.format("%-14s %9s %9s %9s %14s %14s%n", "stage", "PyTorch", "ORT bare", "service",
                "PyTorch/ORT", "service/ORT"));
        double[] sums = new double[3];
        List<String> stages = new ArrayList<>();
        for (Stage s : Stage.values()) {
            stages.add(s.id());
        }
        for (String s : stages) {
            double t = torch.getOrDefault(s, Double.NaN);
            double o = ort.getOrDefault(s, Double.NaN);
            double v = service.getOrDefault(s, Double.NaN);
            sums[0] += t;
            sums[1] += o;
            sums[2] += v;
            sb.append(row(s, t, o, v));
        }
        sb.append(row("job (sum)", sums[0], sums[1], sums[2]));
        sb.append(String.format("submit → MP4 through the services: %.1f s wall%n", wall));
        return sb.toString();
    }

    private static String row(String name, double torch, double ort, double service) {
        return String.format("%-14s %9.2f %9.2f %9.2f %13.2f× %13.2f×%n", name, torch, ort, service, torch / ort,
                service / ort);
    }

    private static String loadAverage() {
        try {
            String[] f = java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
