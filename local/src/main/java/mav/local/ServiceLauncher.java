package mav.local;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Starts the five stage services (k replicas of a stage when asked: other HTTP ports, the same consumer group, so
 * Kafka splits the partitions between them) and waits until each one reports ready.
 */
final class ServiceLauncher {
    /** What the services are pointed at. */
    record Settings(Endpoints endpoints, java.nio.file.Path modelsDir, int basePort, Map<Stage, Integer> replicas,
            int workers, int ortThreads, List<String> jvmOptions) {
    }

    private final Layout layout;
    private final Settings settings;
    private final List<StageProcess> processes = new ArrayList<>();

    ServiceLauncher(Layout layout, Settings settings) {
        this.layout = layout;
        this.settings = settings;
    }

    List<StageProcess> processes() {
        return processes;
    }

    Map<String, String> env() {
        Endpoints e = settings.endpoints();
        Map<String, String> env = e.serviceEnv();
        env.put("MAV_MODELS_DIR", settings.modelsDir().toString());
        env.put("MAV_WORKERS", String.valueOf(settings.workers()));
        env.put("MAV_ORT_THREADS", String.valueOf(settings.ortThreads()));
        // the launcher sends SIGTERM and SIGKILLs a service STOP_GRACE_SECONDS later: drain well within that
        env.put("MAV_DRAIN_SECONDS", String.valueOf(StageProcess.STOP_GRACE_SECONDS - 10));
        return env;
    }

    /**
     * Starts every replica, calls {@code launched}, then waits for all of them to be ready; on failure stops what
     * it started and says why.
     */
    void start(int readyTimeoutSeconds, Runnable launched) {
        Map<String, String> base = env();
        try {
            for (Stage s : Stage.values()) {
                int k = Math.max(1, settings.replicas().getOrDefault(s, 1));
                for (int r = 0; r < k; r++) {
                    StageProcess p = new StageProcess(s, r, s.port(settings.basePort(), r));
                    Map<String, String> env = new LinkedHashMap<>(base);
                    env.put("QUARKUS_HTTP_PORT", String.valueOf(p.port));
                    p.start(layout, env, settings.jvmOptions());
                    processes.add(p);
                }
            }
            launched.run();
            awaitReady(readyTimeoutSeconds);
        } catch (RuntimeException e) {
            stop();
            throw e;
        }
    }

    /**
     * Starts {@code old}'s replica again (same stage, replica number and port) once its process has gone, and waits
     * until it is ready; returns the new one, which takes {@code old}'s place in {@link #processes()}.
     */
    StageProcess restart(StageProcess old, int readyTimeoutSeconds) {
        StageProcess p = new StageProcess(old.stage, old.replica, old.port);
        Map<String, String> env = new LinkedHashMap<>(env());
        env.put("QUARKUS_HTTP_PORT", String.valueOf(p.port));
        p.start(layout, env, settings.jvmOptions());
        processes.set(processes.indexOf(old), p);
        awaitReady(List.of(p), readyTimeoutSeconds);
        return p;
    }

    private void awaitReady(int timeoutSeconds) {
        awaitReady(processes, timeoutSeconds);
    }

    private void awaitReady(List<StageProcess> which, int timeoutSeconds) {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        List<StageProcess> waiting = new ArrayList<>(which);
        while (!waiting.isEmpty()) {
            for (var it = waiting.iterator(); it.hasNext();) {
                StageProcess p = it.next();
                if (!p.isAlive()) {
                    throw new StackException(p.stage.module + " (" + p.role() + ", port " + p.port + ") exited with status "
                            + p.process().process.exitValue() + " while starting; log " + p.process().log + ":\n"
                            + p.process().tail(40));
                }
                if (p.ready()) {
                    it.remove();
                } else if (p.modelError() != null) {
                    throw new StackException(p.stage.module + " (" + p.role() + ", port " + p.port + ") cannot load its"
                            + " models: " + p.modelError() + "\nlog " + p.process().log + ":\n" + p.process().tail(25));
                }
            }
            if (waiting.isEmpty()) {
                break;
            }
            if (System.nanoTime() > deadline) {
                StageProcess p = waiting.get(0);
                throw new StackException(p.stage.module + " (" + p.role() + ", port " + p.port + ") is not ready after "
                        + timeoutSeconds + " s; /q/health/ready says: " + p.lastHealth() + "\nlog " + p.process().log
                        + ":\n" + p.process().tail(40));
            }
            ChildProcess.sleep(500);
        }
    }

    void stop() {
        // in parallel: each takes a few seconds to drain and close its Kafka clients
        List<Thread> threads = new ArrayList<>();
        for (StageProcess p : processes) {
            Thread t = new Thread(p::stop, "stop-" + p.role());
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            try {
                t.join(java.util.concurrent.TimeUnit.SECONDS.toMillis(StageProcess.STOP_GRACE_SECONDS + 10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
