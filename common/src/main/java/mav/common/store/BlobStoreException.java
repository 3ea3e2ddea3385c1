package mav.common.store;

/** An object store call failed (network, credentials, server error); the message names bucket and key. */
public class BlobStoreException extends RuntimeException {
    public BlobStoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
