package mav.local;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Where things are: the repository root (service jars, models), the state dir (logs, broker and S3 data, the
 * stack file) and the classpath the broker and S3Proxy child JVMs run from (this module's jar and target/lib).
 */
record Layout(Path root, Path stateDir, String childClasspath) {

    static Layout of(Path root, Path stateDir) {
        return new Layout(root.toAbsolutePath().normalize(), stateDir.toAbsolutePath().normalize(), computeClasspath());
    }

    /** This module's code (jar or classes dir) plus every jar in its lib dir. */
    static String computeClasspath() {
        Path self;
        try {
            self = Path.of(Layout.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        String libProp = System.getProperty("mav.local.lib");
        // target/mav-local.jar or target/classes: either way target/lib beside it
        Path lib = libProp != null ? Path.of(libProp) : self.getParent().resolve("lib");
        if (!Files.isDirectory(lib)) {
            throw new StackException("no dependency dir " + lib + ": build the local module first"
                    + " (mvn -DskipTests package)");
        }
        return self + File.pathSeparator + lib.toAbsolutePath() + File.separator + "*";
    }

    Path serviceJar(Stage stage) {
        return moduleJar(stage.module);
    }

    Path moduleJar(String module) {
        return root.resolve(module).resolve("target/quarkus-app/quarkus-run.jar");
    }

    Path logs() {
        return stateDir.resolve("logs");
    }

    Path stackFile() {
        return stateDir.resolve("stack.properties");
    }

    /** The models every stage loads, as named in the model repository. */
    static final List<String> MODELS = List.of("text_encoder", "prior", "decoder", "interpolator", "sr_low", "sr_high");

    /**
     * {@code models/} when it holds a version with a manifest of every model (a training run that is still going
     * leaves it partial), else the tiny random-weight models of {@code testing/models/}.
     */
    Path defaultModels() {
        Path trained = root.resolve("models");
        if (isComplete(trained)) {
            return trained;
        }
        return root.resolve("testing/models");
    }

    /**
     * Writes {@code text} to {@code file} readable and writable by the owner only (0600), as it holds credentials;
     * a file that exists is narrowed to 0600 before it is rewritten.
     */
    static void writePrivate(Path file, String text) throws java.io.IOException {
        var ownerOnly = java.nio.file.attribute.PosixFilePermissions.fromString("rw-------");
        try {
            if (Files.exists(file)) {
                Files.setPosixFilePermissions(file, ownerOnly);
            } else {
                Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(ownerOnly));
            }
        } catch (UnsupportedOperationException notPosix) {
            // a file system without POSIX permissions: nothing narrower to ask for
        }
        Files.writeString(file, text, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Deletes {@code dir} and everything under it; nothing when it does not exist. */
    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (java.io.IOException e) {
            throw new StackException("cannot delete " + dir + ": " + e.getMessage(), e);
        }
    }

    static boolean isComplete(Path dir) {
        return MODELS.stream().allMatch(m -> hasManifest(dir.resolve(m)));
    }

    static boolean hasManifest(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (var s = Files.walk(dir, 3, java.nio.file.FileVisitOption.FOLLOW_LINKS)) {
            return s.anyMatch(p -> p.getFileName().toString().equals("manifest.json"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
