package mav.gateway;

import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import mav.common.store.BlobStore;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * A real single-node KRaft broker (kafka_2.13 4.1.2) and a real S3 server (S3Proxy 4.1.0, filesystem backend), each
 * in a child JVM on this test's classpath, configured as {@code ./mav up} runs them; the gateway under test is
 * pointed at both. Started once for every test class of the module.
 */
public class KafkaAndS3 implements QuarkusTestResourceLifecycleManager {
    static final String ACCESS_KEY = "mav-test";
    static final String SECRET_KEY = "mav-test-secret";
    static final String BUCKET = "mav";
    static final List<String> TOPICS = List.of("prompts", "embeddings", "keyframes", "frames-64", "frames-256",
            "videos", "status", "dead-letter");

    private final List<Process> processes = new ArrayList<>();
    private Path dir;

    @Override
    public Map<String, String> start() {
        try {
            dir = Path.of("target", "kafka-s3-" + ProcessHandle.current().pid()).toAbsolutePath();
            deleteTree(dir);
            Files.createDirectories(dir);
            int kafka = freePort();
            int controller = freePort();
            int s3 = freePort();
            Path kafkaConfig = dir.resolve("server.properties");
            Files.writeString(kafkaConfig, String.join("\n",
                    "process.roles=broker,controller",
                    "node.id=1",
                    "controller.quorum.voters=1@127.0.0.1:" + controller,
                    "listeners=PLAINTEXT://127.0.0.1:" + kafka + ",CONTROLLER://127.0.0.1:" + controller,
                    "advertised.listeners=PLAINTEXT://127.0.0.1:" + kafka,
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "log.dirs=" + dir.resolve("kafka-data"),
                    "num.partitions=3",
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=3",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0", ""));
            Process format = java("kafka-format", "kafka.tools.StorageTool", "format", "-t",
                    UUID.randomUUID().toString().replace("-", "").substring(0, 22), "-c", kafkaConfig.toString());
            if (!format.waitFor(90, TimeUnit.SECONDS) || format.exitValue() != 0) {
                throw new IllegalStateException("formatting the Kafka storage failed: see " + dir.resolve("kafka-format.log"));
            }
            processes.add(java("kafka", "kafka.Kafka", kafkaConfig.toString()));
            Path s3Config = dir.resolve("s3proxy.properties");
            Files.createDirectories(dir.resolve("s3-data"));
            Files.writeString(s3Config, String.join("\n",
                    "s3proxy.endpoint=http://127.0.0.1:" + s3,
                    "s3proxy.authorization=aws-v2-or-v4",
                    "s3proxy.identity=" + ACCESS_KEY,
                    "s3proxy.credential=" + SECRET_KEY,
                    "s3proxy.ignore-unknown-headers=true",
                    "jclouds.provider=filesystem",
                    "jclouds.identity=" + ACCESS_KEY,
                    "jclouds.credential=" + SECRET_KEY,
                    "jclouds.filesystem.basedir=" + dir.resolve("s3-data"), ""));
            processes.add(java("s3proxy", "org.gaul.s3proxy.Main", "--properties", s3Config.toString()));
            awaitPort(kafka, "Kafka", "kafka.log");
            awaitPort(s3, "S3Proxy", "s3proxy.log");
            String bootstrap = "127.0.0.1:" + kafka;
            String endpoint = "http://localhost:" + s3;
            createTopics(bootstrap);
            BlobStore.connect(endpoint, ACCESS_KEY, SECRET_KEY, BUCKET).ensureBucket();
            return Map.of("kafka.bootstrap.servers", bootstrap, "mav.s3.endpoint", endpoint,
                    "mav.s3.access-key", ACCESS_KEY, "mav.s3.secret-key", SECRET_KEY, "mav.s3.bucket", BUCKET);
        } catch (IOException | InterruptedException e) {
            stop();
            throw new IllegalStateException("cannot start Kafka and S3 for the tests under " + dir + ": " + e, e);
        }
    }

    private Process java(String name, String main, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xms64m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
                "-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve(name + ".log").toFile())
                .start();
    }

    private void awaitPort(int port, String what, String log) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                return;
            } catch (IOException notYet) {
                Thread.sleep(200);
            }
        }
        throw new IllegalStateException(what + " did not open port " + port + " in 90 s: see " + dir.resolve(log));
    }

    private static void createTopics(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(TOPICS.stream().map(t -> new NewTopic("mav." + t, 3, (short) 1)).toList()).all()
                    .get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new IllegalStateException("cannot create the topics on " + bootstrap + ": " + e, e);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void stop() {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
            }
        }
        processes.clear();
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
