package mav.common.store;

/**
 * An object store call failed (network, credentials, server error); the message names bucket and key.
 * {@link #retryable()} tells a failure that may pass (the server unreachable, a timeout, a 5xx) from one that a
 * retry cannot fix (access denied, a bucket that does not exist).
 */
public class BlobStoreException extends RuntimeException {
    private final boolean retryable;

    public BlobStoreException(String message, Throwable cause) {
        this(message, cause, false);
    }

    public BlobStoreException(String message, Throwable cause, boolean retryable) {
        super(message, cause);
        this.retryable = retryable;
    }

    public boolean retryable() {
        return retryable;
    }
}
