package mav.srhigh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Mp4EncoderTest {

    @Test
    void encodesH264ThatDecodesToTheSameColours(@TempDir Path dir) throws Exception {
        int w = 96;
        int h = 64;
        byte[] frame = new byte[w * h * 3];
        for (int p = 0; p < w * h; p++) {
            // left half the red that JCodec was measured shifting, right half a saturated blue
            boolean left = p % w < w / 2;
            frame[p * 3] = (byte) (left ? 230 : 30);
            frame[p * 3 + 1] = (byte) (left ? 40 : 60);
            frame[p * 3 + 2] = (byte) (left ? 40 : 220);
        }
        byte[] mp4;
        try (Mp4Encoder encoder = new Mp4Encoder("ffmpeg", w, h, 40.0, dir.resolve("out.mp4"))) {
            for (int i = 0; i < 12; i++) {
                encoder.write(frame);
            }
            mp4 = encoder.finish();
        }
        Path file = dir.resolve("check.mp4");
        Files.write(file, mp4);

        String probe = run("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                "stream=codec_name,pix_fmt,width,height,nb_read_frames,r_frame_rate", "-of", "default=nw=1", file.toString());
        assertTrue(probe.contains("codec_name=h264"), probe);
        assertTrue(probe.contains("pix_fmt=yuv420p"), probe);
        assertTrue(probe.contains("width=96") && probe.contains("height=64"), probe);
        assertTrue(probe.contains("nb_read_frames=12"), probe);
        assertTrue(probe.contains("r_frame_rate=40/1"), probe);

        Process p = new ProcessBuilder("ffmpeg", "-v", "error", "-i", file.toString(), "-frames:v", "1",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-").start();
        byte[] decoded = p.getInputStream().readAllBytes();
        assertEquals(0, p.waitFor());
        assertEquals(frame.length, decoded.length);
        int[] red = pixel(decoded, w, h / 2, w / 4);
        int[] blue = pixel(decoded, w, h / 2, 3 * w / 4);
        assertClose(new int[] {230, 40, 40}, red);
        assertClose(new int[] {30, 60, 220}, blue);
    }

    @Test
    void refusesAFrameOfTheWrongSize(@TempDir Path dir) throws Exception {
        try (Mp4Encoder encoder = new Mp4Encoder("ffmpeg", 16, 16, 8, dir.resolve("x.mp4"))) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> encoder.write(new byte[10]));
            assertTrue(e.getMessage().contains("expected 768"), e.getMessage());
        }
    }

    private static int[] pixel(byte[] rgb, int w, int y, int x) {
        int i = (y * w + x) * 3;
        return new int[] {rgb[i] & 0xff, rgb[i + 1] & 0xff, rgb[i + 2] & 0xff};
    }

    private static void assertClose(int[] want, int[] got) {
        for (int c = 0; c < 3; c++) {
            assertTrue(Math.abs(want[c] - got[c]) <= 8, () -> java.util.Arrays.toString(want) + " decoded as "
                    + java.util.Arrays.toString(got));
        }
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    @Test
    void anEncoderThatCannotStartLeavesNoFileBehind(@TempDir Path dir) throws Exception {
        long logsBefore = leftovers("ffmpeg-");
        Path mp4 = dir.resolve("never.mp4");
        org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> new Mp4Encoder(dir.resolve("no-such-ffmpeg").toString(), 16, 16, 8, mp4));
        assertEquals(logsBefore, leftovers("ffmpeg-"), "the ffmpeg log of an encoder that never ran is deleted");
    }

    @Test
    void leftoversOfAKilledReplicaAreSweptOnlyWhenOlderThanAnyJob() throws Exception {
        Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
        Path old = Files.createTempFile(tmp, "mav-sweep-test-", ".mp4");
        Path young = Files.createTempFile(tmp, "mav-sweep-test-", ".mp4");
        Files.setLastModifiedTime(old, java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minus(java.time.Duration.ofHours(2))));
        try {
            Mp4Encoder.deleteLeftovers(java.time.Duration.ofMinutes(30));
            assertTrue(Files.notExists(old), "an MP4 older than the longest job is swept");
            assertTrue(Files.exists(young), "a young one may be another replica's job in flight");
        } finally {
            Files.deleteIfExists(old);
            Files.deleteIfExists(young);
        }
    }

    private static long leftovers(String prefix) throws java.io.IOException {
        try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return s.filter(f -> f.getFileName().toString().startsWith(prefix)).count();
        }
    }
}
