package mav.gateway;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Who is calling: the owner id that jobs are stored under, derived from the API key so that it survives restarts
 * and never reveals the key. With no keys configured every caller is {@link #OPEN} and sees every job.
 *
 * @param owner {@code key-<first 32 hex digits of SHA-256(key)>}, or null for the open (keyless) gateway
 */
public record Caller(String owner) {
    public static final Caller OPEN = new Caller(null);

    public static Caller ofKey(String apiKey) {
        return new Caller(ownerOf(apiKey));
    }

    public static String ownerOf(String apiKey) {
        try {
            byte[] h = MessageDigest.getInstance("SHA-256").digest(apiKey.getBytes(StandardCharsets.UTF_8));
            return "key-" + HexFormat.of().formatHex(h, 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JRE", e);
        }
    }

    /** The id rate limits and in-flight caps count against. */
    public String bucket() {
        return owner == null ? "anonymous" : owner;
    }

    /** A keyed caller sees only its own jobs; the open gateway sees all, those from kcat or ./mav included. */
    public boolean canSee(String jobOwner) {
        return owner == null || owner.equals(jobOwner);
    }
}
