package mav.common.stage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.record.AbstractRecords;
import org.apache.kafka.common.record.CompressionType;
import org.apache.kafka.common.record.RecordBatch;
import org.junit.jupiter.api.Test;

class DeadLettersTest {
    private static final int ONE_MIB = 1024 * 1024;
    private final DeadLetters letters = new DeadLetters("mav.dead-letter", "prior", 256 * 1024);

    private static String header(ProducerRecord<String, byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    /** What the producer checks against max.request.size for a record alone in its batch. */
    private static int wireSize(ProducerRecord<String, byte[]> r) {
        byte[] key = r.key() == null ? null : r.key().getBytes(StandardCharsets.UTF_8);
        return AbstractRecords.estimateSizeInBytesUpperBound(RecordBatch.CURRENT_MAGIC_VALUE, CompressionType.NONE,
                key, r.value(), r.headers().toArray());
    }

    @Test
    void aSmallRecordTravelsWholeWithItsOriginAndReason() {
        byte[] value = "{not json".getBytes(StandardCharsets.UTF_8);
        var letter = letters.letter(new ConsumerRecord<>("mav.prompts", 2, 41L, "job-1", value), "malformed JSON",
                new IllegalStateException("x"), (k, v) -> {
                    throw new AssertionError("no claim check for a small record");
                });
        assertEquals("mav.dead-letter", letter.topic());
        assertEquals("job-1", letter.key());
        assertArrayEquals(value, letter.value());
        assertEquals("malformed JSON", header(letter, DeadLetters.REASON));
        assertEquals("mav.prompts", header(letter, DeadLetters.TOPIC));
        assertEquals("2", header(letter, DeadLetters.PARTITION));
        assertEquals("41", header(letter, DeadLetters.OFFSET));
        assertEquals("9", header(letter, DeadLetters.ORIGINAL_SIZE));
        assertEquals(DeadLetters.sha256(value), header(letter, DeadLetters.SHA256));
        assertNull(header(letter, DeadLetters.TRUNCATED));
    }

    @Test
    void aRecordOfTwoMebibytesWithAHugeKeyAndReasonStillFitsTheProducersOneMebibyteLimit() {
        byte[] value = new byte[2 * ONE_MIB];
        java.util.Arrays.fill(value, (byte) 'x');
        Map<String, byte[]> stored = new HashMap<>();
        var letter = letters.letter(new ConsumerRecord<>("mav.prompts", 0, 7L, "k".repeat(ONE_MIB), value),
                "r".repeat(ONE_MIB), new RuntimeException(), (k, v) -> {
                    stored.put(k, v);
                    return true;
                });
        assertTrue(wireSize(letter) < ONE_MIB / 2, "dead letter of " + wireSize(letter) + " bytes");
        assertEquals("true", header(letter, DeadLetters.TRUNCATED));
        assertEquals(String.valueOf(2 * ONE_MIB), header(letter, DeadLetters.ORIGINAL_SIZE));
        assertEquals(DeadLetters.sha256(value), header(letter, DeadLetters.SHA256));
        assertEquals("dead-letters/mav.prompts/0-7", header(letter, DeadLetters.PAYLOAD_KEY));
        assertArrayEquals(value, stored.get("dead-letters/mav.prompts/0-7"), "the whole record in the store");
    }

    @Test
    void withTheStoreDownATruncatedLetterSaysSoAndNamesNoKey() {
        var letter = letters.letter(new ConsumerRecord<>("mav.keyframes", 1, 3L, "j", new byte[ONE_MIB]), "too big",
                null, (k, v) -> false);
        assertEquals(256 * 1024, letter.value().length);
        assertNull(header(letter, DeadLetters.PAYLOAD_KEY));
        assertEquals("true", header(letter, DeadLetters.TRUNCATED));
    }
}
