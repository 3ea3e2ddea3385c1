package mav.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bad-records scenario's reading of the stage logs, on lines as the stages write them. */
class ChaosLogChecksTest {
    private static final String EARLIER = """
            2026-12-06 16:11:34,265 SEVERE [mav.common.stage.StageRunner] (inference-1) an earlier scenario's trace
            java.lang.IllegalStateException: not this scenario's
            \tat mav.common.stage.StageRunner.process(StageRunner.java:290)
            """;

    @TempDir
    Path dir;

    private static String warn(String job, String stage, String where, String reason) {
        return "2026-12-06 16:12:13,442 WARNING [mav.common.stage.StageRunner] (inference-1) job " + job
                + " failed in stage " + stage + " (invalid_event, " + where + "): " + reason + "\n";
    }

    private List<Chaos.Check> check(Map<String, String> stageOf, String... appended) throws IOException {
        Path log = dir.resolve("decoder-0.log");
        Files.writeString(log, EARLIER);
        long start = Files.size(log);
        Files.writeString(log, String.join("", appended), StandardOpenOption.APPEND);
        return Chaos.logChecks(Map.of(log, start), stageOf);
    }

    @Test
    void oneWarnLinePerRecordAtItsStageAndNoTraceSinceTheStartPass() throws IOException {
        List<Chaos.Check> checks = check(Map.of("bad-1", "prior", "bad-2", "decoder"),
                warn("bad-1", "prior", "mav.prompts-0@5", "record is 307244 bytes; this stage accepts at most 262144"),
                warn("bad-2", "decoder", "mav.embeddings-1@12", "artifact 'image_embed' at jobs/bad-2/prior/lie.npy"
                        + " refused: .npy has shape [1, 3, 16, 7000, 6400], expected [1, 16]"),
                "2026-12-06 16:12:14,001 INFO  [io.quarkus] (main) something else\n");
        assertTrue(checks.get(0).passed(), checks.get(0).line());
        assertEquals("2 of 2", checks.get(0).detail());
        assertTrue(checks.get(1).passed(), checks.get(1).line());
    }

    @Test
    void aMissingARepeatedOrAMisplacedLineAndAStackTraceFail() throws IOException {
        List<Chaos.Check> checks = check(Map.of("bad-1", "prior", "bad-2", "prior", "bad-3", "decoder"),
                warn("bad-1", "prior", "mav.prompts-0@5", "empty event"),
                warn("bad-1", "prior", "mav.prompts-0@5", "empty event"),
                warn("bad-3", "prior", "mav.prompts-1@7", "empty event"),
                "2026-12-06 16:12:14,000 SEVERE [mav.common.stage.StageRunner] (inference-1) job bad-2 failed in"
                        + " stage prior (internal, mav.prompts-0@6): boom\n",
                "java.lang.IllegalStateException: boom\n",
                "\tat mav.common.stage.StageRunner.run(StageRunner.java:330)\n");
        assertFalse(checks.get(0).passed(), checks.get(0).line());
        assertTrue(checks.get(0).detail().startsWith("0 of 3"), checks.get(0).detail());
        assertFalse(checks.get(1).passed(), checks.get(1).line());
        assertTrue(checks.get(1).detail().startsWith("1 stack-trace lines"), checks.get(1).detail());
    }
}
