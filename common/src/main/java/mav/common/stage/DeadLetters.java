package mav.common.stage;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

/**
 * Dead letters that always fit the producer's request size: the original record's value when it is small, else
 * its first {@link #inlineLimit} bytes with the whole value kept in the object store (a claim check) when the
 * store takes it. Headers name the reason, where the record came from, and the original's size and SHA-256, so
 * that a truncated letter can still be matched to what was sent.
 */
public final class DeadLetters {
    public static final String REASON = "dead-letter-reason";
    public static final String CAUSE = "dead-letter-cause";
    public static final String TOPIC = "dead-letter-topic";
    public static final String PARTITION = "dead-letter-partition";
    public static final String OFFSET = "dead-letter-offset";
    public static final String STAGE = "dead-letter-stage";
    public static final String ORIGINAL_SIZE = "dead-letter-original-size";
    public static final String SHA256 = "dead-letter-sha256";
    public static final String TRUNCATED = "dead-letter-truncated";
    public static final String PAYLOAD_KEY = "dead-letter-payload-key";
    /** Keys and header texts are cut to these many characters: a key of a megabyte must not ride along whole. */
    static final int MAX_KEY_CHARS = 256;
    static final int MAX_TEXT_CHARS = 1000;

    /** Where the whole value of a truncated letter goes; returns false when it could not be stored. */
    public interface ClaimCheck {
        boolean store(String key, byte[] value);
    }

    private final String topic;
    private final String stage;
    private final int inlineLimit;

    /**
     * @param inlineLimit values up to this many bytes travel in the letter itself; with headers and key the letter
     *                    stays far below Kafka's 1 MiB default {@code max.request.size} when this is at most 512 KiB
     */
    public DeadLetters(String topic, String stage, int inlineLimit) {
        if (inlineLimit < 0 || inlineLimit > 512 * 1024) {
            throw new IllegalArgumentException("dead letters carry 0 to 512 KiB of the original inline, got "
                    + inlineLimit);
        }
        this.topic = topic;
        this.stage = stage;
        this.inlineLimit = inlineLimit;
    }

    public ProducerRecord<String, byte[]> letter(ConsumerRecord<String, byte[]> original, String reason, Throwable cause,
            ClaimCheck claimCheck) {
        byte[] value = original.value() == null ? new byte[0] : original.value();
        Headers h = new RecordHeaders();
        text(h, REASON, reason);
        if (cause != null) {
            text(h, CAUSE, cause.getClass().getName());
        }
        text(h, TOPIC, original.topic());
        text(h, PARTITION, String.valueOf(original.partition()));
        text(h, OFFSET, String.valueOf(original.offset()));
        text(h, STAGE, stage);
        text(h, ORIGINAL_SIZE, String.valueOf(value.length));
        text(h, SHA256, sha256(value));
        byte[] payload = value;
        if (value.length > inlineLimit) {
            payload = Arrays.copyOf(value, inlineLimit);
            text(h, TRUNCATED, "true");
            String key = "dead-letters/" + original.topic() + "/" + original.partition() + "-" + original.offset();
            if (claimCheck.store(key, value)) {
                text(h, PAYLOAD_KEY, key);
            }
        }
        return new ProducerRecord<>(topic, null, cut(original.key(), MAX_KEY_CHARS), original.value() == null ? null
                : payload, h);
    }

    private static void text(Headers h, String name, String value) {
        h.add(name, cut(value == null ? "" : value, MAX_TEXT_CHARS).getBytes(StandardCharsets.UTF_8));
    }

    static String cut(String s, int max) {
        if (s == null || s.length() <= max) {
            return s;
        }
        return s.substring(0, max) + "…";
    }

    static String sha256(byte[] value) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }
}
