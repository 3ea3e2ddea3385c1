package mav.gateway;

import io.minio.GetObjectArgs;
import io.minio.GetPresignedObjectUrlArgs;
import io.minio.ListObjectsArgs;
import io.minio.MinioClient;
import io.minio.RemoveObjectArgs;
import io.minio.Result;
import io.minio.StatObjectArgs;
import io.minio.StatObjectResponse;
import io.minio.Http;
import io.minio.messages.Item;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import mav.common.event.EventCodec;
import mav.common.store.BlobNotFoundException;
import mav.common.store.BlobStore;
import mav.common.store.BlobStoreException;

/**
 * The gateway's side of the claim-check store: common's {@link BlobStore} for whole objects, and on a MinIO client
 * of its own what only the gateway needs: ranged reads for streaming, presigned URLs, listing and deleting.
 */
@ApplicationScoped
public class ObjectStore {
    @Inject
    GatewayConfig config;

    private MinioClient client;
    private MinioClient presigner;
    private BlobStore blobs;

    void onStart(@Observes StartupEvent e) {
        GatewayConfig.S3 s3 = config.s3();
        client = client(s3.endpoint(), s3);
        // a presigned URL is signed for the host it names: sign for the one clients reach
        presigner = s3.presignEndpoint().map(ep -> client(ep, s3)).orElse(client);
        blobs = BlobStore.connect(s3);
    }

    private static MinioClient client(String endpoint, GatewayConfig.S3 s3) {
        // the region as BlobStore.connect sets it: no GetBucketLocation round trip, and presigning needs no network
        return MinioClient.builder().endpoint(endpoint).credentials(s3.accessKey(), s3.secretKey())
                .region("us-east-1").build();
    }

    public BlobStore blobs() {
        return blobs;
    }

    public String bucket() {
        return config.s3().bucket();
    }

    /** The video's metadata object written by sr-high, or null when there is none (yet). */
    public JsonNode videoMetadata(String jobId) {
        try {
            return EventCodec.mapper().readTree(blobs.get("videos/" + jobId + ".json"));
        } catch (BlobNotFoundException | java.io.IOException e) {
            return null;
        }
    }

    /** Size and content type of an object, or null when it does not exist. */
    public StatObjectResponse stat(String key) {
        if (!blobs.exists(key)) {
            return null;
        }
        try {
            return client.statObject(StatObjectArgs.builder().bucket(bucket()).object(key).build());
        } catch (Exception e) {
            throw failure("stat", key, e);
        }
    }

    /** {@code length} bytes from {@code offset} (the rest when length is null). */
    public InputStream open(String key, long offset, Long length) {
        try {
            GetObjectArgs.Builder b = GetObjectArgs.builder().bucket(bucket()).object(key).offset(offset);
            if (length != null) {
                b.length(length);
            }
            return client.getObject(b.build());
        } catch (Exception e) {
            throw failure("get", key, e);
        }
    }

    /** A GET URL for the object that expires after the configured time. */
    public String presign(String key) {
        try {
            return presigner.getPresignedObjectUrl(GetPresignedObjectUrlArgs.builder().method(Http.Method.GET)
                    .bucket(bucket()).object(key)
                    .expiry((int) config.gateway().presignExpiry().toSeconds()).build());
        } catch (Exception e) {
            throw failure("presign", key, e);
        }
    }

    /** Deletes every object under {@code prefix} but {@code keep} (may be null); returns how many. */
    public int deletePrefix(String prefix, String keep) {
        List<String> keys = new ArrayList<>();
        try {
            for (Result<Item> r : client.listObjects(ListObjectsArgs.builder().bucket(bucket()).prefix(prefix)
                    .recursive(true).build())) {
                String key = r.get().objectName();
                if (!key.equals(keep)) {
                    keys.add(key);
                }
            }
        } catch (Exception e) {
            throw failure("list", prefix, e);
        }
        keys.forEach(this::delete);
        return keys.size();
    }

    public void delete(String key) {
        try {
            client.removeObject(RemoveObjectArgs.builder().bucket(bucket()).object(key).build());
        } catch (Exception e) {
            throw failure("delete", key, e);
        }
    }

    private BlobStoreException failure(String what, String key, Exception e) {
        if (e instanceof BlobNotFoundException nf) {
            throw nf;
        }
        return new BlobStoreException("cannot " + what + " s3://" + bucket() + "/" + key + ": " + e.getMessage(), e);
    }
}
