package mav.local;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * A single-node KRaft Kafka (broker and controller in one process) in a child JVM, its data under
 * {@code <state>/kafka}. The storage is formatted once; a later start reuses it, topics and offsets included.
 */
final class KafkaBroker {
    private final Layout layout;
    private final int port;
    private final int controllerPort;
    private ChildProcess process;

    KafkaBroker(Layout layout, int port, int controllerPort) {
        this.layout = layout;
        this.port = port;
        this.controllerPort = controllerPort;
    }

    /**
     * 127.0.0.1, not localhost: where /etc/hosts also maps localhost to ::1 (Debian's default), a client may try
     * the IPv6 address first, find nothing listening and give up (kcat's producer does).
     */
    String bootstrap() {
        return "127.0.0.1:" + port;
    }

    ChildProcess process() {
        return process;
    }

    void start() {
        ChildProcess.requireFree(port, "Kafka");
        ChildProcess.requireFree(controllerPort, "Kafka controller");
        Path dir = layout.stateDir().resolve("kafka");
        Path data = dir.resolve("data");
        Path config = dir.resolve("server.properties");
        Path log = layout.logs().resolve("kafka.log");
        try {
            Files.createDirectories(data);
            Files.writeString(config, serverProperties(data), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new StackException("cannot write " + config + ": " + e.getMessage(), e);
        }
        List<String> jvm = jvmArgs();
        if (!Files.exists(data.resolve("meta.properties"))) {
            ChildProcess format = ChildProcess.startJava("kafka-format", jvm,
                    List.of("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c",
                            config.toString()), Map.of(), log, layout.root());
            try {
                if (!format.process.waitFor(60, TimeUnit.SECONDS) || format.process.exitValue() != 0) {
                    format.stop(1);
                    throw new StackException("formatting the Kafka storage failed; log " + log + ":\n" + format.tail(20));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StackException("interrupted", e);
            }
        }
        process = ChildProcess.startJava("kafka", jvm, List.of("kafka.Kafka", config.toString()), Map.of(), log,
                layout.root());
        process.awaitPort(port, 60);
    }

    private List<String> jvmArgs() {
        List<String> a = new ArrayList<>(List.of("-Xms128m", "-Xmx512m", "-XX:+UseSerialGC",
                "-Dlogback.configurationFile=mav-child-logback.xml", "-Djava.awt.headless=true"));
        a.add("-cp");
        a.add(layout.childClasspath());
        return a;
    }

    private String serverProperties(Path data) {
        return String.join("\n",
                "# written by ./mav; single-node KRaft: broker and controller in one process",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
                "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + port,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "log.dirs=" + data,
                "num.partitions=4",
                "auto.create.topics.enable=true",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=4",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                // its own controller would fence the only broker after a pause (a frozen or suspended JVM), and a
                // transaction committing then loses the markers of its leaderless partitions for good
                "broker.session.timeout.ms=120000",
                "log.retention.hours=168",
                "log.segment.bytes=67108864",
                "message.max.bytes=10485760",
                "") ;
    }

    void stop() {
        if (process != null) {
            process.stop(20);
        }
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30_000);
        return Admin.create(p);
    }

    /**
     * Creates every topic of the architecture with {@code partitions} partitions (replication 1 here, the cluster's
     * default elsewhere) and grows existing ones that have fewer.
     */
    static void createTopics(String bootstrap, String prefix, int partitions, boolean localBroker) {
        try (Admin admin = admin(bootstrap)) {
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<NewTopic> create = new ArrayList<>();
            List<String> present = new ArrayList<>();
            for (String t : Stage.TOPICS) {
                String name = prefix + t;
                if (existing.contains(name)) {
                    present.add(name);
                } else {
                    create.add(localBroker ? new NewTopic(name, partitions, (short) 1)
                            : new NewTopic(name, java.util.Optional.of(partitions), java.util.Optional.empty()));
                }
            }
            for (NewTopic t : create) {
                try {
                    admin.createTopics(List.of(t)).all().get(30, TimeUnit.SECONDS);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            }
            if (!present.isEmpty()) {
                Map<String, TopicDescription> d = admin.describeTopics(present).allTopicNames().get(30, TimeUnit.SECONDS);
                for (TopicDescription td : d.values()) {
                    if (td.partitions().size() < partitions) {
                        admin.createPartitions(Map.of(td.name(), NewPartitions.increaseTo(partitions))).all()
                                .get(30, TimeUnit.SECONDS);
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StackException("interrupted", e);
        } catch (Exception e) {
            Throwable c = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw new StackException("cannot create the topics on Kafka " + bootstrap + ": " + c, c);
        }
    }
}
