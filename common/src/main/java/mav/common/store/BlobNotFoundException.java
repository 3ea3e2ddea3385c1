package mav.common.store;

/** The object store has no object under the key a job refers to. */
public class BlobNotFoundException extends RuntimeException {
    private final String key;

    public BlobNotFoundException(String bucket, String key) {
        super("object s3://" + bucket + "/" + key + " does not exist");
        this.key = key;
    }

    public String key() {
        return key;
    }
}
