package mav.common.store;

import io.minio.BucketExistsArgs;
import io.minio.GetObjectArgs;
import io.minio.MakeBucketArgs;
import io.minio.MinioClient;
import io.minio.PutObjectArgs;
import io.minio.StatObjectArgs;
import io.minio.errors.ErrorResponseException;
import io.minio.errors.ServerException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The claim-check store: tensors, frames and videos live here, events only carry their keys. Talks S3 through the
 * MinIO client, to MinIO in production and S3Proxy locally.
 */
public final class BlobStore {
    /** S3 error codes that a later call may not get: the server is busy or failed inside. */
    private static final Set<String> RETRYABLE_CODES = Set.of("InternalError", "ServiceUnavailable", "SlowDown",
            "RequestTimeout", "RequestTimeTooSkewed", "OperationAborted");
    private final MinioClient client;
    private final MinioClient probeClient;
    private final String bucket;

    public BlobStore(MinioClient client, MinioClient probeClient, String bucket) {
        this.client = client;
        this.probeClient = probeClient;
        this.bucket = bucket;
    }

    public static BlobStore connect(S3Settings s3) {
        return connect(s3.endpoint(), s3.accessKey(), s3.secretKey(), s3.bucket());
    }

    public static BlobStore connect(String endpoint, String accessKey, String secretKey, String bucket) {
        MinioClient client = client(endpoint, accessKey, secretKey);
        // a frozen server must not hold a job's call forever: the job's retries and deadline take over instead
        client.setTimeout(TimeUnit.SECONDS.toMillis(5), TimeUnit.SECONDS.toMillis(60), TimeUnit.SECONDS.toMillis(60));
        MinioClient probe = client(endpoint, accessKey, secretKey);
        // readiness must answer within a second even with the server stopped (SIGSTOP) mid-connection
        probe.setTimeout(500, 500, 500);
        return new BlobStore(client, probe, bucket);
    }

    private static MinioClient client(String endpoint, String accessKey, String secretKey) {
        return MinioClient.builder()
                .endpoint(endpoint)
                .credentials(accessKey, secretKey)
                // a fixed region spares a GetBucketLocation round trip, which S3Proxy does not need either
                .region("us-east-1")
                .build();
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

    /** True when the server answers within a second and the bucket exists; used by the stage's store probe. */
    public boolean isReachable() {
        try {
            return probeClient.bucketExists(BucketExistsArgs.builder().bucket(bucket).build());
        } catch (Exception e) {
            return false;
        }
    }

    public void put(String key, byte[] data, String contentType) {
        try (InputStream in = new ByteArrayInputStream(data)) {
            client.putObject(PutObjectArgs.builder().bucket(bucket).object(key)
                    .stream(in, (long) data.length, -1L).contentType(contentType).build());
        } catch (Exception e) {
            throw failure("put", key, e);
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
            throw failure("get", key, e);
        } catch (Exception e) {
            throw failure("get", key, e);
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
            throw failure("stat", key, e);
        } catch (Exception e) {
            throw failure("stat", key, e);
        }
    }

    private BlobStoreException failure(String op, String key, Exception e) {
        String what = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return new BlobStoreException("cannot " + op + " s3://" + bucket + "/" + key + ": " + what, e, isRetryable(e));
    }

    /** Network failures, timeouts and server-side errors may pass; a refusal (403, 400, no bucket) will not. */
    static boolean isRetryable(Throwable e) {
        // the client wraps network failures (CompletionException, ExecutionException): look down the chain
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof ErrorResponseException r) {
                String code = r.errorResponse() == null ? null : r.errorResponse().code();
                return RETRYABLE_CODES.contains(code) || (r.response() != null && r.response().code() >= 500);
            }
            if (t instanceof IOException || t instanceof ServerException
                    || t instanceof io.minio.errors.InsufficientDataException) {
                return true;
            }
        }
        return false;
    }

    private static boolean isNotFound(ErrorResponseException e) {
        String code = e.errorResponse() == null ? null : e.errorResponse().code();
        return "NoSuchKey".equals(code) || "NoSuchObject".equals(code) || "NotFound".equals(code)
                || (e.response() != null && e.response().code() == 404);
    }
}
