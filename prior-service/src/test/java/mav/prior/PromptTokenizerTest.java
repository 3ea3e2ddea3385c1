package mav.prior;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import mav.common.event.InvalidEventException;
import mav.common.onnx.ModelManifest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Hugging Face tokenizer on the Java side gives the ids the Python training code gave. */
class PromptTokenizerTest {
    private static final Path REPO = Path.of("..").toAbsolutePath().normalize();
    private static final Path MODEL = REPO.resolve("testing/models/text_encoder/1");
    private static PromptTokenizer tokenizer;

    @BeforeAll
    static void load() {
        ModelManifest manifest = ModelManifest.read(MODEL.resolve("manifest.json"));
        tokenizer = new PromptTokenizer(MODEL.resolve(manifest.tokenizer().file()), manifest.tokenizer());
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    @Test
    void idsMatchThePythonTokenizerForEveryFixture() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(
                REPO.resolve("common/src/test/resources/fixtures/tokenizer_cases.json").toFile());
        assertTrue(cases.size() >= 5);
        for (JsonNode c : cases) {
            long[] expected = new long[c.get("ids").size()];
            for (int i = 0; i < expected.length; i++) {
                expected[i] = c.get("ids").get(i).asLong();
            }
            assertArrayEquals(expected, tokenizer.encode(c.get("text").asText()), c.get("text").asText());
        }
    }

    @Test
    void aPromptLongerThanTheEncoderTakesIsRefusedNotCut() {
        var e = assertThrows(InvalidEventException.class,
                () -> tokenizer.encode("a red circle and ".repeat(20)));
        assertTrue(e.getMessage().contains("tokens, at most 30"), e.getMessage());
    }
}
