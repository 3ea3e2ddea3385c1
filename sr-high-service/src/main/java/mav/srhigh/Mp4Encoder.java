package mav.srhigh;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Encodes RGB frames to a browser-playable H.264 MP4 (yuv420p, moov atom first) by piping raw frames into the
 * ffmpeg binary, one frame at a time, so a 768×768 clip never sits in memory as a whole.
 */
public final class Mp4Encoder implements AutoCloseable {
    private final Process process;
    private final OutputStream stdin;
    private final Path output;
    private final Path log;
    private final int frameBytes;

    public Mp4Encoder(String ffmpeg, int width, int height, double fps, Path output) throws IOException {
        this.output = output;
        this.log = Files.createTempFile("ffmpeg-", ".log");
        this.frameBytes = width * height * 3;
        try {
            process = new ProcessBuilder(List.of(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", width + "x" + height, "-r", Double.toString(fps),
                    "-i", "-",
                    "-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", output.toString()))
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .start();
        } catch (IOException e) {
            Files.deleteIfExists(log);
            throw e;
        }
        stdin = process.getOutputStream();
    }

    /**
     * Deletes this stage's temporary MP4s and ffmpeg logs older than {@code age} from the temp directory: what a
     * killed replica left behind (younger ones may belong to another replica's job in flight).
     */
    public static void deleteLeftovers(java.time.Duration age) {
        java.time.Instant cutoff = java.time.Instant.now().minus(age);
        try (var files = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            files.filter(f -> {
                String n = f.getFileName().toString();
                return (n.startsWith("mav-") && n.endsWith(".mp4")) || (n.startsWith("ffmpeg-") && n.endsWith(".log"));
            }).forEach(f -> {
                try {
                    if (Files.getLastModifiedTime(f).toInstant().isBefore(cutoff)) {
                        Files.deleteIfExists(f);
                    }
                } catch (IOException e) {
                    // another replica's, or gone already
                }
            });
        } catch (IOException e) {
            // an unreadable temp dir only means nothing is swept
        }
    }

    /** Checks that {@code ffmpeg} runs and can encode H.264. */
    public static void requireFfmpeg(String ffmpeg) {
        try {
            Process p = new ProcessBuilder(ffmpeg, "-hide_banner", "-encoders").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.contains("libx264")) {
                throw new IllegalStateException(ffmpeg + " has no libx264 encoder");
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot run ffmpeg at '" + ffmpeg + "': " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while checking ffmpeg", e);
        }
    }

    public void write(byte[] rgb) throws IOException {
        if (rgb.length != frameBytes) {
            throw new IllegalArgumentException("frame has " + rgb.length + " bytes, expected " + frameBytes);
        }
        stdin.write(rgb);
    }

    /** Closes the input and waits for ffmpeg; returns the MP4's bytes. */
    public byte[] finish() throws IOException, InterruptedException {
        stdin.close();
        if (!process.waitFor(10, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new IOException("ffmpeg did not finish within 10 minutes");
        }
        if (process.exitValue() != 0) {
            throw new IOException("ffmpeg exited with " + process.exitValue() + ": " + Files.readString(log).trim());
        }
        return Files.readAllBytes(output);
    }

    @Override
    public void close() throws IOException {
        process.destroy();
        Files.deleteIfExists(log);
        Files.deleteIfExists(output);
    }
}
