package mav.local;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A child process of the local stack (broker, S3Proxy, a stage service): stdout and stderr go to a log file, it
 * runs in its own session (so a closed terminal does not take it down when {@code ./mav up} has returned), and
 * it carries {@code -Dmavlocal.role=...} (not under {@code mav.}, which Quarkus validates) so that {@code ./mav down} only ever stops processes it started.
 */
final class ChildProcess {
    static final String ROLE_PROPERTY = "mavlocal.role";

    final String role;
    final Process process;
    final Path log;

    private ChildProcess(String role, Process process, Path log) {
        this.role = role;
        this.process = process;
        this.log = log;
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** Starts {@code java <jvmArgs> <mainOrJar...>} with {@code env} added to this process's environment. */
    static ChildProcess startJava(String role, List<String> jvmArgs, List<String> mainAndArgs, Map<String, String> env,
            Path log, Path workDir) {
        List<String> cmd = new ArrayList<>();
        if (Files.isExecutable(Path.of("/usr/bin/setsid")) || Files.isExecutable(Path.of("/bin/setsid"))) {
            cmd.add("setsid");
        }
        cmd.add(javaBinary());
        cmd.add("-D" + ROLE_PROPERTY + "=" + role);
        cmd.addAll(jvmArgs);
        cmd.addAll(mainAndArgs);
        return start(role, cmd, env, log, workDir);
    }

    static ChildProcess start(String role, List<String> cmd, Map<String, String> env, Path log, Path workDir) {
        try {
            Files.createDirectories(log.getParent());
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(workDir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().putAll(env);
            Files.writeString(log, "=== " + java.time.Instant.now() + " " + String.join(" ", cmd) + "\n",
                    StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.CREATE,
                    java.nio.file.StandardOpenOption.APPEND);
            return new ChildProcess(role, pb.start(), log);
        } catch (IOException e) {
            throw new StackException("cannot start " + role + " (" + String.join(" ", cmd) + "): " + e.getMessage(), e);
        }
    }

    static String javaBinary() {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return Files.isExecutable(java) ? java.toString() : "java";
    }

    /** SIGTERM, then SIGKILL after {@code graceSeconds}. */
    void stop(int graceSeconds) {
        stop(process.toHandle(), graceSeconds);
    }

    static void stop(ProcessHandle h, int graceSeconds) {
        if (!h.isAlive()) {
            return;
        }
        h.destroy();
        try {
            h.onExit().get(graceSeconds, TimeUnit.SECONDS);
        } catch (Exception e) {
            h.destroyForcibly();
            try {
                h.onExit().get(5, TimeUnit.SECONDS);
            } catch (Exception ignored) {
                // reported by the caller through isAlive
            }
        }
    }

    /** The live process {@code pid} if it is one of ours (its command line names our role property). */
    static Optional<ProcessHandle> ours(long pid) {
        return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                .filter(h -> h.info().commandLine().map(c -> c.contains("-D" + ROLE_PROPERTY + "=")).orElse(false));
    }

    /** The last {@code lines} lines of the log, for error messages. */
    String tail(int lines) {
        return tail(log, lines);
    }

    static String tail(Path file, int lines) {
        if (!Files.exists(file)) {
            return "(no log at " + file + ")";
        }
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "r")) {
            long len = f.length();
            long from = Math.max(0, len - 64 * 1024);
            f.seek(from);
            byte[] buf = new byte[(int) (len - from)];
            f.readFully(buf);
            // health-check reports repeat every poll and would drown what matters
            String[] all = java.util.Arrays.stream(new String(buf, StandardCharsets.UTF_8).split("\n"))
                    .filter(l -> !l.contains("SRHCK01001")).map(l -> l.length() > 400 ? l.substring(0, 400) + " …" : l)
                    .toArray(String[]::new);
            int start = Math.max(0, all.length - lines);
            StringBuilder sb = new StringBuilder();
            for (int i = start; i < all.length; i++) {
                sb.append("    | ").append(all[i]).append('\n');
            }
            return sb.toString();
        } catch (IOException e) {
            return "(cannot read " + file + ": " + e.getMessage() + ")";
        }
    }

    static boolean portOpen(String host, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(host, port), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** Fails early and clearly when a fixed port is taken by something else. */
    static void requireFree(int port, String what) {
        if (portOpen("127.0.0.1", port)) {
            throw new StackException("port " + port + " (" + what + ") is already in use; stop what listens there"
                    + " (./mav down, if it is an earlier stack) or pick another port with the matching --*-port option");
        }
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new StackException("no free port: " + e.getMessage(), e);
        }
    }

    /**
     * A base port with the 30 ports after it free (five services, up to three replicas each), below Linux's
     * ephemeral range (32768 and up). Why: the services start one after another over half a minute, and meanwhile
     * the Kafka and S3 clients' outgoing
     * connections take local ports from the ephemeral range; a service port chosen there was once taken that way
     * before its service bound it ("Port 43884 seems to be in use").
     */
    static int freeBase() {
        for (int attempt = 0; attempt < 50; attempt++) {
            int base = 20000 + (int) (Math.random() * 12000);
            boolean free = true;
            for (int i = 0; i < 30 && free; i++) {
                free = !portOpen("127.0.0.1", base + i);
            }
            if (free) {
                return base;
            }
        }
        throw new StackException("no free port range for the services");
    }

    /** Waits until {@code port} accepts connections, failing with the log tail when the process dies or time runs out. */
    void awaitPort(int port, int timeoutSeconds) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        while (!portOpen("127.0.0.1", port)) {
            if (!isAlive()) {
                throw new StackException(role + " exited with status " + process.exitValue() + " before opening port "
                        + port + "; log " + log + ":\n" + tail(30));
            }
            if (System.nanoTime() > deadline) {
                throw new StackException(role + " did not open port " + port + " within " + timeoutSeconds
                        + " s; log " + log + ":\n" + tail(30));
            }
            sleep(200);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        }
    }
}
