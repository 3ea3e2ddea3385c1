package mav.local;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import mav.common.event.InvalidEventException;
import mav.common.event.PromptRequest;

/** {@code ./mav}: the local Make-A-Video pipeline from the command line. */
public final class Mav {
    static final Set<String> STACK_FLAGS = Set.of("kafka", "s3", "s3-access-key", "s3-secret-key", "bucket",
            "topic-prefix", "models", "replicas", "kafka-port", "controller-port", "s3-port", "http-port", "partitions",
            "workers", "ort-threads", "no-services", "ready-timeout", "state-dir");
    static final Set<String> JOB_FLAGS = Set.of("seed", "fps", "out", "steps", "guidance", "negative", "job-id",
            "timeout", "plain", "no-download");

    private static final String USAGE = """
            usage: ./mav <command> [options]

              generate "PROMPT" [--seed N] [--fps N] [--steps stage=N,...|N] [--out DIR] [--models DIR]
                                 start Kafka, S3 and the five services, make one video, stop everything;
                                 the last line printed is the MP4's absolute path (uses a running stack if
                                 there is one)
              up [--replicas stage=k,...] [--foreground] [--gateway-port 8080 | --no-gateway]
                                 start the stack and gateway-service (the web page and /v1/videos API,
                                 no API keys) and leave them running (state in .mav/)
              submit "PROMPT" [job options] [--no-wait]
                                 submit to the running stack, show progress, download the result
              down [--purge]     stop the running stack (--purge also deletes the Kafka and S3 data)
              top [--once]       per stage: jobs/min, p50/p95 latency, in flight, failed, consumer lag
              bench --jobs N [--replicas stage=k,...] [--steps ...]
                                 N jobs through the stack: throughput, latency, time outside inference
              bench --compare [--threads 2] [--timed-calls N]
                                 each stage's model time for the default job: PyTorch, bare ONNX Runtime,
                                 the running service, in one run
              bench --batching [--stages decoder,interpolation] [--max-calls 10] [--batch-wait-ms MS]
                                 stage throughput at 1, 2 and 4 jobs in flight, batching off and on
              chaos [--jobs N] [--bad N] [--outage-seconds S]
                                 fault injection on a stack of its own (free ports, state in .mav/chaos,
                                 decoder and sr-low with 2 replicas, testing/models unless --models):
                                 kill -9 of busy replicas, SIGTERM mid-job, S3 stopped S s, S3 frozen S s
                                 (every replica's readiness DOWN, answered within 1 s), Kafka frozen S s,
                                 N bad records (one WARN line each, no stack trace);
                                 prints jobs, faults, completed, duplicates, failed and recovery per scenario
                                 and its checks

            job options:   --seed N --fps N (1-30) --guidance X --negative TEXT --job-id ID
                           --steps prior=N,decoder=N,interpolation=N,sr-low=N,sr-high=N (or one N for all)
                           --out DIR (default ./out) --timeout SECONDS (default 3600) --plain
            stack options: --models DIR (default models/, else testing/models/)
                           --kafka HOST:PORT --s3 URL --s3-access-key K --s3-secret-key S  (external Kafka/S3)
                           --no-services --kafka-port 9092 --controller-port 9093 --s3-port 9000
                           --http-port 8081 (replica r of stage i listens on 8081+i+10r) --partitions 4
                           --workers 1 --ort-threads 0 --ready-timeout 300 --bucket mav --topic-prefix mav.
            """;

    private final PrintStream out;
    private final PrintStream err = System.err;

    private Mav() {
        this(System.out);
    }

    Mav(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] argv) {
        if (System.getProperty("logback.configurationFile") == null) {
            System.setProperty("logback.configurationFile", "mav-local-logback.xml");
        }
        int rc;
        try {
            rc = new Mav().run(Arrays.asList(argv));
        } catch (Args.UsageException e) {
            System.err.println("mav: " + e.getMessage());
            System.err.println("run ./mav help for the commands and options");
            rc = 2;
        } catch (InvalidEventException e) {
            System.err.println("mav: " + e.getMessage());
            rc = 2;
        } catch (StackException e) {
            System.err.println("mav: " + e.getMessage());
            rc = 3;
        }
        System.out.flush();
        System.exit(rc);
    }

    int run(List<String> argv) {
        Args a = Args.parse(argv);
        if (a.positional.isEmpty() || a.flag("help") || a.positional.get(0).equals("help")) {
            out.print(USAGE);
            return a.positional.isEmpty() && !a.flag("help") ? 2 : 0;
        }
        Path root = Path.of(System.getProperty("mav.root", ".")).toAbsolutePath().normalize();
        Path state = a.has("state-dir") ? Path.of(a.get("state-dir")) : root.resolve(".mav");
        Layout layout = Layout.of(root, state);
        String cmd = a.positional.get(0);
        return switch (cmd) {
            case "generate" -> job(a, layout, false);
            case "submit" -> job(a, layout, true);
            case "up" -> up(a, layout);
            case "down" -> down(a, layout);
            case "top" -> Top.run(a, layout, out);
            case "bench" -> a.flag("compare") ? Compare.run(a, layout, out)
                    : a.flag("batching") ? Bench.batching(a, layout, out) : Bench.run(a, layout, out);
            case "chaos" -> chaos(a, layout);
            default -> throw new Args.UsageException("unknown command '" + cmd + "'");
        };
    }

    void say(String s) {
        out.println("mav: " + s);
        out.flush();
    }

    /** {@code generate} (starts a stack unless one runs) and {@code submit} (needs a running or external one). */
    private int job(Args a, Layout layout, boolean submitOnly) {
        a.allowOnly(union(STACK_FLAGS, JOB_FLAGS, Set.of("no-wait")));
        if (a.positional.size() < 2) {
            throw new Args.UsageException(a.positional.get(0) + " needs a prompt: ./mav " + a.positional.get(0)
                    + " \"a red fish swimming left\"");
        }
        if (!submitOnly && a.flag("no-wait")) {
            throw new Args.UsageException("--no-wait is for ./mav submit: generate stops its stack when the job is done");
        }
        String prompt = String.join(" ", a.positional.subList(1, a.positional.size()));
        PromptRequest request = request(a, prompt).validate();
        Path outDir = Path.of(a.get("out", "out")).toAbsolutePath().normalize();

        boolean external = a.has("kafka") || a.has("s3");
        Properties running = LocalStack.running(layout);
        LocalStack stack = null;
        Endpoints endpoints;
        if (!external && running != null) {
            endpoints = LocalStack.endpoints(running);
            say("using the running stack (" + endpoints.kafka() + ", " + endpoints.s3() + ")");
        } else if (submitOnly) {
            endpoints = externalEndpoints(a, running);
        } else {
            StackOptions o = StackOptions.from(a, layout);
            stack = LocalStack.start(layout, o, this::say);
            endpoints = stack.endpoints();
        }
        try {
            return runJob(a, request, endpoints, outDir, stack, layout);
        } finally {
            stop(stack);
        }
    }

    /** Stops a stack this command started (a no-op for none, or one already stopped). */
    private void stop(LocalStack stack) {
        if (stack != null && !stack.isClosed()) {
            if (stack.ownsProcesses()) {
                say("stopping the stack");
            }
            stack.close();
        }
    }

    private int runJob(Args a, PromptRequest request, Endpoints endpoints, Path outDir, LocalStack stack,
            Layout layout) {
        boolean tty = ProgressView.isTerminal(a.flag("plain"));
        List<Path> files;
        try (StatusWatcher watcher = new StatusWatcher(endpoints); JobSubmitter submitter = new JobSubmitter(endpoints)) {
            submitter.submit(request);
            say("submitted job " + request.jobId() + " to " + endpoints.topic("prompts"));
            if (a.flag("no-wait")) {
                out.println(request.jobId());
                return 0;
            }
            ProgressView view = new ProgressView(out, tty, request.jobId());
            JobWaiter.Outcome o = JobWaiter.await(watcher, request.jobId(), view,
                    Duration.ofSeconds(a.intValue("timeout", 3600)));
            if (!o.ok()) {
                err.println("mav: job " + request.jobId() + " failed"
                        + (o.failedStage() != null ? " in stage " + o.failedStage() : "") + ": " + o.reason());
                if (stack != null || LocalStack.running(layout) != null) {
                    err.println("mav: service logs are in " + layout.logs());
                }
                return 1;
            }
            if (a.flag("no-download")) {
                out.println("s3://" + endpoints.bucket() + "/videos/" + request.jobId() + ".mp4");
                return 0;
            }
            files = new Downloader(endpoints).download(request.jobId(), outDir);
        }
        for (Path f : files.subList(1, files.size())) {
            say("wrote " + f);
        }
        stop(stack); // before the last line, which must be the MP4's path
        out.println(files.get(0));
        return 0;
    }

    static PromptRequest request(Args a, String prompt) {
        String jobId = a.get("job-id", newJobId());
        Map<String, Integer> steps = steps(a.get("steps"));
        Double guidance = null;
        if (a.has("guidance")) {
            try {
                guidance = Double.valueOf(a.get("guidance"));
            } catch (NumberFormatException e) {
                throw new Args.UsageException("--guidance must be a number, got '" + a.get("guidance") + "'");
            }
        }
        Integer fps = a.has("fps") ? a.intValue("fps", 8) : null;
        return new PromptRequest(jobId, prompt, a.get("negative"), a.longValue("seed"), fps, guidance, steps);
    }

    /** {@code prior=2,sr-low=3} or one number for every stage, as steps keys. */
    static Map<String, Integer> steps(String spec) {
        Map<String, Integer> steps = new LinkedHashMap<>();
        if (spec == null) {
            return steps;
        }
        if (spec.trim().matches("\\d+")) {
            for (Stage s : Stage.values()) {
                steps.put(s.name.stepsKey(), Integer.parseInt(spec.trim()));
            }
            return steps;
        }
        Args.stageInts(spec, "--steps").forEach((s, n) -> steps.put(s.name.stepsKey(), n));
        return steps;
    }

    static String newJobId() {
        return "job-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")) + "-"
                + String.format("%04x", ThreadLocalRandom.current().nextInt(0x10000));
    }

    /** Endpoints from --kafka/--s3 flags, filling the rest from the stack file when there is one. */
    static Endpoints externalEndpoints(Args a, Properties running) {
        Endpoints base = running != null ? LocalStack.endpoints(running) : null;
        String kafka = a.get("kafka", base != null ? base.kafka() : null);
        String s3 = a.get("s3", base != null ? base.s3() : null);
        if (kafka == null || s3 == null) {
            throw new StackException("no running stack (start one with ./mav up) and no --kafka HOST:PORT --s3 URL given");
        }
        return new Endpoints(kafka, s3, a.get("s3-access-key", base != null ? base.accessKey() : "minioadmin"),
                a.get("s3-secret-key", base != null ? base.secretKey() : "minioadmin"),
                a.get("bucket", base != null ? base.bucket() : "mav"),
                a.get("topic-prefix", base != null ? base.topicPrefix() : "mav."));
    }

    private int up(Args a, Layout layout) {
        a.allowOnly(union(STACK_FLAGS, Set.of("foreground", "gateway-port", "no-gateway")));
        Properties running = LocalStack.running(layout);
        if (running != null) {
            say("a stack is already running (./mav down stops it)");
            printStack(LocalStack.endpoints(running), LocalStack.serviceUrls(running), layout.stackFile(),
                    running.getProperty("url." + GatewayProcess.ROLE));
            return 0;
        }
        StackOptions options = StackOptions.from(a, layout);
        if (!a.flag("no-gateway")) {
            options = options.withGateway(a.intValue("gateway-port", StackOptions.DEFAULT_GATEWAY_PORT));
        }
        LocalStack stack = LocalStack.start(layout, options, this::say);
        Map<String, List<String>> urls = new LinkedHashMap<>();
        for (StageProcess p : stack.services()) {
            urls.computeIfAbsent(p.stage.id(), k -> new java.util.ArrayList<>()).add(p.url());
        }
        printStack(stack.endpoints(), urls, layout.stackFile(), stack.gateway() == null ? null : stack.gateway().url());
        if (a.flag("foreground")) {
            say("running in the foreground; Ctrl-C stops the stack");
            try {
                Thread.currentThread().join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else {
            stack.detach();
        }
        return 0;
    }

    void printStack(Endpoints e, Map<String, List<String>> urls, Path stackFile, String gatewayUrl) {
        String host = e.kafka();
        out.println();
        if (gatewayUrl != null) {
            out.println("Web page and API " + gatewayUrl + "   (open it in a browser; POST " + gatewayUrl
                    + "v1/videos; no API keys)");
        }
        out.println("Kafka bootstrap  " + host + "   (topics " + e.topicPrefix() + "prompts ... " + e.topicPrefix()
                + "dead-letter)");
        // the secret key stays in the owner-only stack file: terminals, CI logs and screen shares keep none
        out.println("S3 endpoint      " + e.s3() + "   access key " + e.accessKey() + ", secret key in "
                + stackFile + " (s3.secret-key), bucket " + e.bucket());
        urls.forEach((stage, list) -> {
            if (!list.isEmpty()) {
                out.printf("%-16s %s%n", stage, String.join("  ", list));
            }
        });
        out.println();
        out.println("Try:");
        if (gatewayUrl != null) {
            out.println("  curl -s -H 'Content-Type: application/json' -d '{\"prompt\": \"a red fish swimming left\"}' "
                    + gatewayUrl + "v1/videos");
        }
        out.println("  ./mav submit \"a red fish swimming left\" --steps 10");
        out.println("  echo 'job-1:{\"jobId\":\"job-1\",\"prompt\":\"a red fish swimming left\",\"seed\":42}' | kcat -b "
                + host + " -t " + e.topic("prompts") + " -K: -P");
        out.println("  kcat -b " + host + " -t " + e.topic("status") + " -C -o end -f '%k %s\\n'");
        out.println("  kcat -b " + host + " -t " + e.topic("videos") + " -C -o beginning -e");
        out.println("  AWS_ACCESS_KEY_ID=" + e.accessKey() + " AWS_SECRET_ACCESS_KEY=\"$(sed -n 's/^s3.secret-key=//p' "
                + stackFile + ")\" AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url " + e.s3() + " s3 ls s3://"
                + e.bucket() + "/videos/");
        out.println("  ./mav top        ./mav down");
        out.flush();
    }

    /** {@code ./mav chaos}: the fault-injection suite of ChaosIT with more jobs, its figures printed. */
    private int chaos(Args a, Layout layout) {
        a.allowOnly(union(STACK_FLAGS, Set.of("jobs", "bad", "outage-seconds", "timeout")));
        int jobs = a.intValue("jobs", 20);
        Layout own = Layout.of(layout.root(), layout.stateDir().resolve("chaos"));
        Layout.deleteTree(own.stateDir());
        Path models = a.has("models") ? Path.of(a.get("models")).toAbsolutePath() : layout.root().resolve("testing/models");
        Map<Stage, Integer> replicas = a.has("replicas") ? Args.stageInts(a.get("replicas"), "--replicas")
                : Map.of(Stage.DECODER, 2, Stage.SR_LOW, 2);
        StackOptions o = StackOptions.from(a, own).onFreePorts(replicas, models)
                .withServiceJvmOptions(List.of("-XX:TieredStopAtLevel=1", "-Xmx1g"));
        List<Chaos.Figures> figures = new java.util.ArrayList<>();
        try (LocalStack stack = LocalStack.start(own, o, this::say)) {
            Chaos chaos = new Chaos(stack, Duration.ofSeconds(a.intValue("timeout", 900)), this::say);
            List<java.util.function.Supplier<Chaos.Figures>> scenarios = List.of(() -> chaos.killReplicas(jobs),
                    () -> chaos.sigterm(Math.max(2, jobs / 4)),
                    () -> chaos.storeOutage(Math.max(2, jobs / 4), a.intValue("outage-seconds", 30)),
                    () -> chaos.storeFreeze(Math.max(2, jobs / 4), a.intValue("outage-seconds", 30)),
                    () -> chaos.brokerPause(Math.max(2, jobs / 4), a.intValue("outage-seconds", 30)),
                    () -> chaos.badRecords(a.intValue("bad", 1000)));
            for (var scenario : scenarios) {
                Chaos.Figures f = scenario.get();
                say(f.line());
                f.checks().forEach(c -> say(c.line()));
                figures.add(f);
            }
        }
        out.println();
        out.println(Chaos.Figures.header());
        for (Chaos.Figures f : figures) {
            out.println(f.line());
            f.checks().forEach(c -> out.println("    " + c.line()));
        }
        return figures.stream().allMatch(Chaos.Figures::passed) ? 0 : 1;
    }

    private int down(Args a, Layout layout) {
        a.allowOnly(Set.of("purge", "state-dir"));
        List<String> stopped = LocalStack.stopRecorded(layout, this::say);
        say(stopped.isEmpty() ? "no running stack" : "stopped " + String.join(", ", stopped));
        if (a.flag("purge")) {
            for (String d : List.of("kafka", "s3")) {
                Path p = layout.stateDir().resolve(d);
                if (Files.exists(p)) {
                    Layout.deleteTree(p);
                    say("deleted " + p);
                }
            }
        }
        return 0;
    }

    @SafeVarargs
    static Set<String> union(Set<String>... sets) {
        java.util.HashSet<String> u = new java.util.HashSet<>();
        for (Set<String> s : sets) {
            u.addAll(s);
        }
        return u;
    }
}
