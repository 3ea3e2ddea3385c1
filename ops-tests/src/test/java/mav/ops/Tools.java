package mav.ops;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** External tools the checks run: kubectl (kustomize) and docker-compose, found on PATH or where told. */
final class Tools {

    record Result(int exitCode, String stdout, String stderr) {
    }

    private Tools() {
    }

    /**
     * kubectl: $KUBECTL, then PATH, then $MAV_KUBECTL_FALLBACK (where ops-tests/install-kubectl.sh puts one
     * taken from the npm registry).
     */
    static Optional<Path> kubectl() {
        return find("KUBECTL", "kubectl", "MAV_KUBECTL_FALLBACK");
    }

    /** docker-compose (1.x, as Debian ships it): $DOCKER_COMPOSE, then PATH. */
    static Optional<Path> dockerCompose() {
        return find("DOCKER_COMPOSE", "docker-compose", null);
    }

    /** A tool from $overrideVar, else PATH. */
    static Optional<Path> find(String overrideVar, String name) {
        return find(overrideVar, name, null);
    }

    private static Optional<Path> find(String overrideVar, String name, String fallbackVar) {
        String override = System.getenv(overrideVar);
        if (override != null && !override.isBlank()) {
            Path p = Paths.get(override);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(java.io.File.pathSeparator)) {
                Path p = Paths.get(dir, name);
                if (Files.isExecutable(p) && !Files.isDirectory(p)) {
                    return Optional.of(p);
                }
            }
        }
        if (fallbackVar != null) {
            String fallback = System.getenv(fallbackVar);
            if (fallback != null && Files.isExecutable(Paths.get(fallback))) {
                return Optional.of(Paths.get(fallback));
            }
        }
        return Optional.empty();
    }

    static Result run(Path workDir, List<String> command) {
        ProcessBuilder pb = new ProcessBuilder(new ArrayList<>(command)).directory(workDir.toFile());
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
            CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException("timed out: " + String.join(" ", command));
            }
            return new Result(p.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String drain(InputStream in) {
        try (in) {
            ByteArrayOutputStream buf = new ByteArrayOutputStream();
            in.transferTo(buf);
            return buf.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
