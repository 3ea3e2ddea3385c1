package mav.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import mav.common.store.BlobStore;

/**
 * S3Proxy in a child JVM with its filesystem backend under {@code <state>/s3}: an S3 endpoint (AWS v2 and v4
 * signatures) that the services, the MinIO client, the aws CLI and any S3 SDK can talk to.
 */
final class S3Server {
    private final Layout layout;
    private final int port;
    private final String accessKey;
    private final String secretKey;
    private ChildProcess process;

    S3Server(Layout layout, int port, String accessKey, String secretKey) {
        this.layout = layout;
        this.port = port;
        this.accessKey = accessKey;
        this.secretKey = secretKey;
    }

    String endpoint() {
        return "http://localhost:" + port;
    }

    ChildProcess process() {
        return process;
    }

    void start() {
        ChildProcess.requireFree(port, "S3");
        Path dir = layout.stateDir().resolve("s3");
        Path data = dir.resolve("data");
        Path config = dir.resolve("s3proxy.properties");
        try {
            Files.createDirectories(data);
            // it holds the credentials
            Layout.writePrivate(config, String.join("\n",
                    "# written by ./mav: S3Proxy with the filesystem backend",
                    "s3proxy.endpoint=http://127.0.0.1:" + port,
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + accessKey,
                    "s3proxy.credential=" + secretKey,
                    "s3proxy.ignore-unknown-headers=true",
                    "jclouds.provider=filesystem",
                    "jclouds.identity=" + accessKey,
                    "jclouds.credential=" + secretKey,
                    "jclouds.filesystem.basedir=" + data,
                    ""));
        } catch (IOException e) {
            throw new StackException("cannot write " + config + ": " + e.getMessage(), e);
        }
        process = ChildProcess.startJava("s3proxy",
                List.of("-Xms64m", "-Xmx512m", "-XX:+UseSerialGC", "-Dlogback.configurationFile=mav-child-logback.xml",
                        "-cp", layout.childClasspath()),
                List.of("org.gaul.s3proxy.Main", "--properties", config.toString()), Map.of(),
                layout.logs().resolve("s3proxy.log"), layout.root());
        process.awaitPort(port, 60);
    }

    void stop() {
        if (process != null) {
            process.stop(10);
        }
    }

    /** Creates the bucket, retrying while the server finishes starting. */
    static void createBucket(String endpoint, String accessKey, String secretKey, String bucket, int timeoutSeconds) {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        BlobStore store = BlobStore.connect(endpoint, accessKey, secretKey, bucket);
        while (true) {
            try {
                store.ensureBucket();
                return;
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw new StackException("cannot create bucket " + bucket + " at " + endpoint + ": "
                            + e.getMessage(), e);
                }
                ChildProcess.sleep(500);
            }
        }
    }
}
