package mav.local;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The whole local pipeline: embedded Kafka and S3 (unless external ones are given), the topics and the bucket, and
 * the five services, and gateway-service when asked. {@link #close()} stops what this object started, gateway and
 * services first. The stack file
 * {@code <state>/stack.properties} tells later commands (submit, top, bench, down) where everything is.
 */
final class LocalStack implements AutoCloseable {
    private final Layout layout;
    private final StackOptions options;
    private final Consumer<String> say;
    private KafkaBroker broker;
    private S3Server s3;
    private ServiceLauncher services;
    private GatewayProcess gateway;
    private Endpoints endpoints;
    private boolean stopped;
    private final Thread hook = new Thread(this::close, "mav-stop");

    private LocalStack(Layout layout, StackOptions options, Consumer<String> say) {
        this.layout = layout;
        this.options = options;
        this.say = say;
    }

    /** Leaves the processes running when this JVM exits ({@code ./mav up}); {@code ./mav down} stops them. */
    void detach() {
        removeHook();
    }

    private void removeHook() {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is what is running this
        }
    }

    /** Whether this stack started any process (not so with external Kafka and S3 and --no-services). */
    boolean ownsProcesses() {
        return broker != null || s3 != null || services != null || gateway != null;
    }

    synchronized boolean isClosed() {
        return stopped;
    }

    Endpoints endpoints() {
        return endpoints;
    }

    List<StageProcess> services() {
        return services == null ? List.of() : services.processes();
    }

    /** gateway-service, when this stack runs it ({@code ./mav up}); else null. */
    GatewayProcess gateway() {
        return gateway;
    }

    /** Starts a stopped or killed replica again and waits until it is ready (fault injection). */
    StageProcess restartService(StageProcess old) {
        return services.restart(old, options.readyTimeoutSeconds());
    }

    /** The embedded broker, which fault injection freezes; null with an external Kafka. */
    KafkaBroker broker() {
        return broker;
    }

    /** The embedded S3 server, which fault injection stops and starts; null with an external store. */
    S3Server s3Server() {
        return s3;
    }

    /**
     * Starts everything; on any failure stops what already runs and rethrows. Until {@link #close()} or
     * {@link #detach()}, a shutdown hook stops the stack when this JVM exits (Ctrl-C included, even mid-start).
     */
    static LocalStack start(Layout layout, StackOptions o, Consumer<String> say) {
        LocalStack stack = new LocalStack(layout, o, say);
        Runtime.getRuntime().addShutdownHook(stack.hook);
        try {
            stack.startAll();
            return stack;
        } catch (RuntimeException e) {
            stack.close();
            throw e;
        }
    }

    private void startAll() {
        boolean owns = options.externalKafka() == null || options.externalS3() == null || options.services();
        if (owns && running(layout) != null) {
            throw new StackException("a stack is already running (" + layout.stackFile() + "); use it with ./mav submit,"
                    + " or stop it with ./mav down");
        }
        try {
            Files.createDirectories(layout.logs());
        } catch (IOException e) {
            throw new StackException("cannot create " + layout.logs() + ": " + e.getMessage(), e);
        }
        long t0 = System.nanoTime();
        CompletableFuture<Void> s3Start = CompletableFuture.completedFuture(null);
        if (options.externalS3() == null) {
            s3 = new S3Server(layout, options.s3Port(), options.accessKey(), options.secretKey());
            s3Start = CompletableFuture.runAsync(s3::start);
        }
        String kafka = options.externalKafka();
        if (kafka == null || s3 != null) {
            say.accept("starting " + (kafka == null ? "Kafka (KRaft) on localhost:" + options.kafkaPort() : "")
                    + (kafka == null && s3 != null ? " and " : "")
                    + (s3 != null ? "S3Proxy on localhost:" + options.s3Port() : "") + " (logs in " + layout.logs() + ")");
        }
        if (kafka == null) {
            broker = new KafkaBroker(layout, options.kafkaPort(), options.controllerPort());
            broker.start();
            kafka = broker.bootstrap();
        }
        try {
            s3Start.join();
        } catch (java.util.concurrent.CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
        String s3Endpoint = options.externalS3() != null ? options.externalS3() : s3.endpoint();
        endpoints = new Endpoints(kafka, s3Endpoint, options.accessKey(), options.secretKey(), options.bucket(),
                options.topicPrefix());
        // a stage with k replicas needs at least k partitions on its input topic, or some replicas sit idle
        int partitions = Math.max(options.partitions(),
                options.replicas().values().stream().mapToInt(Integer::intValue).max().orElse(1));
        KafkaBroker.createTopics(kafka, options.topicPrefix(), partitions, broker != null);
        S3Server.createBucket(s3Endpoint, options.accessKey(), options.secretKey(), options.bucket(), 30);
        say.accept(String.format("Kafka %s and S3 %s ready in %.1f s", kafka, s3Endpoint, (System.nanoTime() - t0) / 1e9));
        writeStackFile();
        if (options.services()) {
            say.accept("starting the five stage services with models from " + options.modelsDir());
            long t1 = System.nanoTime();
            services = new ServiceLauncher(layout, new ServiceLauncher.Settings(endpoints, options.modelsDir(),
                    options.basePort(), options.replicas(), options.workers(), options.ortThreads(),
                    options.serviceJvmOptions()));
            // recorded as soon as they run, so that ./mav down finds them even if this process dies while waiting
            services.start(options.readyTimeoutSeconds(), this::writeStackFile);
            say.accept(String.format("services ready in %.1f s", (System.nanoTime() - t1) / 1e9));
            writeStackFile();
        }
        if (options.gatewayPort() > 0) {
            long t2 = System.nanoTime();
            gateway = new GatewayProcess(options.gatewayPort());
            gateway.start(layout, endpoints, List.of("-Xmx512m"));
            writeStackFile();
            gateway.awaitReady(options.readyTimeoutSeconds());
            say.accept(String.format("gateway ready in %.1f s at %s", (System.nanoTime() - t2) / 1e9, gateway.url()));
        }
    }

    /** Records what this stack started, for later commands; a stack that started nothing leaves the file alone. */
    private void writeStackFile() {
        if (broker == null && s3 == null && services == null && gateway == null) {
            return;
        }
        Properties p = new Properties();
        p.setProperty("kafka", endpoints.kafka());
        p.setProperty("s3", endpoints.s3());
        p.setProperty("s3.access-key", endpoints.accessKey());
        p.setProperty("s3.secret-key", endpoints.secretKey());
        p.setProperty("bucket", endpoints.bucket());
        p.setProperty("topic-prefix", endpoints.topicPrefix());
        p.setProperty("models", options.modelsDir().toString());
        p.setProperty("started", java.time.Instant.now().toString());
        if (broker != null) {
            p.setProperty("pid.kafka", String.valueOf(broker.process().pid()));
        }
        if (s3 != null) {
            p.setProperty("pid.s3proxy", String.valueOf(s3.process().pid()));
        }
        List<String> urls = new ArrayList<>();
        for (StageProcess sp : services()) {
            p.setProperty("pid." + sp.role(), String.valueOf(sp.process().pid()));
            p.setProperty("url." + sp.role(), sp.url());
            urls.add(sp.stage.id() + "=" + sp.url());
        }
        p.setProperty("services", String.join(",", urls));
        if (gateway != null) {
            p.setProperty("pid." + GatewayProcess.ROLE, String.valueOf(gateway.process().pid()));
            p.setProperty("url." + GatewayProcess.ROLE, gateway.url());
        }
        try {
            java.io.StringWriter w = new java.io.StringWriter();
            p.store(w, "the running local stack, written by ./mav; ./mav down stops it");
            // it holds the S3 secret key
            Layout.writePrivate(layout.stackFile(), w.toString());
        } catch (IOException e) {
            throw new StackException("cannot write " + layout.stackFile() + ": " + e.getMessage(), e);
        }
    }

    /** The stack file of a running stack, or null when there is none (or its processes are gone). */
    static Properties running(Layout layout) {
        if (!Files.exists(layout.stackFile())) {
            return null;
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(layout.stackFile(), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            return null;
        }
        boolean anyAlive = p.stringPropertyNames().stream().filter(k -> k.startsWith("pid."))
                .anyMatch(k -> ChildProcess.ours(Long.parseLong(p.getProperty(k))).isPresent());
        boolean hasPids = p.stringPropertyNames().stream().anyMatch(k -> k.startsWith("pid."));
        return anyAlive || !hasPids ? p : null;
    }

    static Endpoints endpoints(Properties p) {
        return new Endpoints(p.getProperty("kafka"), p.getProperty("s3"), p.getProperty("s3.access-key"),
                p.getProperty("s3.secret-key"), p.getProperty("bucket", "mav"), p.getProperty("topic-prefix", "mav."));
    }

    /** Stage id to its replicas' base URLs, from a stack file. */
    static Map<String, List<String>> serviceUrls(Properties p) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Stage s : Stage.values()) {
            out.put(s.id(), new ArrayList<>());
        }
        String services = p.getProperty("services", "");
        for (String entry : services.split(",")) {
            int eq = entry.indexOf('=');
            if (eq > 0) {
                out.computeIfAbsent(entry.substring(0, eq), k -> new ArrayList<>()).add(entry.substring(eq + 1));
            }
        }
        return out;
    }

    /** Stops the processes a stack file names (./mav down); returns what it stopped. */
    static List<String> stopRecorded(Layout layout, Consumer<String> say) {
        List<String> stopped = new ArrayList<>();
        if (!Files.exists(layout.stackFile())) {
            return stopped;
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(layout.stackFile(), StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new StackException("cannot read " + layout.stackFile() + ": " + e.getMessage(), e);
        }
        // services first, then S3 and Kafka, which the services still talk to while they shut down
        List<String> keys = new ArrayList<>(p.stringPropertyNames().stream().filter(k -> k.startsWith("pid.")).sorted()
                .toList());
        keys.sort((a, b) -> Integer.compare(rank(a), rank(b)));
        List<Thread> services = new ArrayList<>();
        for (String k : keys) {
            long pid = Long.parseLong(p.getProperty(k));
            var h = ChildProcess.ours(pid);
            if (h.isEmpty()) {
                continue;
            }
            String role = k.substring(4);
            say.accept("stopping " + role + " (pid " + pid + ")");
            stopped.add(role);
            if (rank(k) == 0) {
                Thread t = new Thread(() -> ChildProcess.stop(h.get(), StageProcess.STOP_GRACE_SECONDS));
                t.start();
                services.add(t);
            } else {
                for (Thread t : services) {
                    join(t);
                }
                services.clear();
                ChildProcess.stop(h.get(), 20);
            }
        }
        for (Thread t : services) {
            join(t);
        }
        try {
            Files.deleteIfExists(layout.stackFile());
        } catch (IOException e) {
            // harmless: running() checks the pids
        }
        return stopped;
    }

    private static void join(Thread t) {
        try {
            t.join(TimeUnit.SECONDS.toMillis(StageProcess.STOP_GRACE_SECONDS + 10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static int rank(String key) {
        return key.equals("pid.kafka") ? 2 : key.equals("pid.s3proxy") ? 1 : 0;
    }

    /** Stops services, then S3 and Kafka; idempotent. */
    @Override
    public synchronized void close() {
        if (stopped) {
            return;
        }
        stopped = true;
        removeHook();
        long t0 = System.nanoTime();
        if (gateway != null) {
            gateway.stop();
        }
        if (services != null) {
            services.stop();
        }
        if (s3 != null) {
            s3.stop();
        }
        if (broker != null) {
            broker.stop();
        }
        if (services != null || s3 != null || broker != null || gateway != null) {
            say.accept(String.format("stack stopped in %.1f s", (System.nanoTime() - t0) / 1e9));
        }
        if (services != null || s3 != null || broker != null) {
            try {
                Files.deleteIfExists(layout.stackFile());
            } catch (IOException e) {
                // harmless
            }
        }
    }
}
