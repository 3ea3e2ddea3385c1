package mav.common.store;

import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.minio.StatObjectArgs;
import io.minio.errors.ErrorResponseException;
import java.io.ByteArrayInputStream;
import java.io.InputStream;

/**
 * The claim-check store: tensors, frames and videos live here, events only carry their keys. Talks S3 through the
 * MinIO client, to MinIO in production and S3Proxy locally.
 */
public final class BlobStore {
    private final MinioClient client;
    private final String bucket;

    public BlobStore(MinioClient client, String bucket) {
        this.client = client;
        this.bucket = bucket;
    }

    public static BlobStore connect(String endpoint, String accessKey, String secretKey, String bucket) {
        MinioClient client = MinioClient.builder()
                .endpoint(endpoint)
                .credentials(accessKey, secretKey)
                // a fixed region spares a GetBucketLocation round trip, which S3Proxy does not need either
                .region("us-east-1")
                .build();
        return new BlobStore(client, bucket);
    }

    public String bucket() {
        return bucket;
    }

    /** Creates the bucket unless it exists. */
    public void ensureBucket() {
        try {
            if (!client.bucketExists(BucketExistsArgs.builder().bucket(bucket).build())) {
                client.makeBucket(MakeBucketArgs.builder().bucket(bucket).build());
            }
        } catch (Exception e) {
            throw new BlobStoreException("cannot create bucket " + bucket + ": " + e.getMessage(), e);
        }
    }

    /** True when the server answers and the bucket exists; used by readiness. */
    public boolean isReachable() {
        try {
            return client.bucketExists(BucketExistsArgs.builder().bucket(bucket).build());
        } catch (Exception e) {
            return false;
        }
    }

    public void put(String key, byte[] data, String contentType) {
        try (InputStream in = new ByteArrayInputStream(data)) {
            client.putObject(PutObjectArgs.builder().bucket(bucket).object(key)
                    .stream(in, (long) data.length, -1L).contentType(contentType).build());
        } catch (Exception e) {
            throw new BlobStoreException("cannot put s3://" + bucket + "/" + key + ": " + e.getMessage(), e);
        }
    }

    /**
     * @throws BlobNotFoundException if there is no such object
     */
    public byte[] get(String key) {
        try (InputStream in = client.getObject(GetObjectArgs.builder().bucket(bucket).object(key).build())) {
            return in.readAllBytes();
        } catch (ErrorResponseException e) {
            if (isNotFound(e)) {
                throw new BlobNotFoundException(bucket, key);
            }
            throw new BlobStoreException("cannot get s3://" + bucket + "/" + key + ": " + e.getMessage(), e);
        } catch (Exception e) {
            throw new BlobStoreException("cannot get s3://" + bucket + "/" + key + ": " + e.getMessage(), e);
        }
    }

    public boolean exists(String key) {
        try {
            client.statObject(StatObjectArgs.builder().bucket(bucket).object(key).build());
            return true;
        } catch (ErrorResponseException e) {
            if (isNotFound(e)) {
                return false;
            }
            throw new BlobStoreException("cannot stat s3://" + bucket + "/" + key + ": " + e.getMessage(), e);
        } catch (Exception e) {
            throw new BlobStoreException("cannot stat s3://" + bucket + "/" + key + ": " + e.getMessage(), e);
        }
    }

    private static boolean isNotFound(ErrorResponseException e) {
        String code = e.errorResponse() == null ? null : e.errorResponse().code();
        return "NoSuchKey".equals(code) || "NoSuchObject".equals(code) || "NotFound".equals(code)
                || (e.response() != null && e.response().code() == 404);
    }
}
