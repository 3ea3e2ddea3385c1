package mav.ops;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The repository under test and the contract the deployment files must follow: stage ports, input topics and
 * consumer groups, read from each service's {@code application.properties} when it exists and otherwise from
 * the tables of {@code docs/architecture.md}; the gateway's name and port from its own application.properties.
 */
final class Repo {

    /** Stages that run on a GPU in docker-compose.yml and k8s/overlays/gpu. */
    static final Set<String> GPU_STAGES = Set.of("decoder", "interpolation", "sr-low", "sr-high");

    static final String DEFAULT_TOPIC_PREFIX = "mav.";

    private static final Pattern SERVICE_ROW =
            Pattern.compile("^\\|\\s*([a-z0-9-]+-service)\\s*\\|\\s*(\\d+)\\s*\\|\\s*`([^`]+)`\\s*→\\s*`([^`]+)`");
    private static final Pattern TOPIC_ROW =
            Pattern.compile("^\\|\\s*`([a-z0-9.-]+)`\\s*\\|\\s*[^|]*\\|\\s*(`([a-z0-9-]+)`|[^|`]*)\\s*\\|");
    private static final Pattern PLACEHOLDER = Pattern.compile("\\$\\{([^}:]+)(?::([^}]*))?}");

    /** One stage service as the deployment files must wire it. */
    record Stage(String service, String stage, int port, String inputTopic, String outputTopic, String group,
                 String source) {
        boolean gpu() {
            return GPU_STAGES.contains(stage);
        }
    }

    /**
     * The HTTP gateway: not a stage (no input topic, no consumer group, no autoscaler), but deployed beside them;
     * {@code topics} are the topics docs/architecture.md names it on (it produces to them or reads them).
     */
    record Gateway(String service, int port, Set<String> topics, String source) {
    }

    private Repo() {
    }

    /** gateway-service as its application.properties names it and docs/architecture.md's topic table wires it. */
    static Gateway gateway() {
        Path props = root().resolve("gateway-service/src/main/resources/application.properties");
        Properties p = load(props);
        Properties none = new Properties();
        String name = resolve(p.getProperty("quarkus.application.name"), p, none);
        String port = resolve(p.getProperty("quarkus.http.port"), p, none);
        if (name == null || port == null) {
            throw new IllegalStateException(props + ": quarkus.application.name or quarkus.http.port missing");
        }
        Set<String> topics = new java.util.TreeSet<>();
        for (String line : architecture().split("\n")) {
            Matcher m = TOPIC_ROW.matcher(line);
            if (m.find() && line.contains(name.trim())) {
                topics.add(m.group(1));
            }
        }
        if (topics.isEmpty()) {
            throw new IllegalStateException("docs/architecture.md's topic table names no topic of " + name);
        }
        return new Gateway(name.trim(), Integer.parseInt(port.trim()), topics, root().relativize(props).toString());
    }

    static Path root() {
        String configured = System.getProperty("mav.repo.root");
        Path root = configured != null ? Paths.get(configured) : Paths.get("..");
        root = root.toAbsolutePath().normalize();
        if (!Files.isRegularFile(root.resolve("docs/architecture.md"))) {
            throw new IllegalStateException("not the repository root (no docs/architecture.md): " + root);
        }
        return root;
    }

    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String architecture() {
        return read(root().resolve("docs/architecture.md"));
    }

    /** Topic name to consumer group, from the Topics table (groups only where the consumer is a mav-* group). */
    static Map<String, String> topicTable() {
        Map<String, String> topics = new LinkedHashMap<>();
        for (String line : architecture().split("\n")) {
            Matcher m = TOPIC_ROW.matcher(line);
            if (m.find() && m.group(1).startsWith(DEFAULT_TOPIC_PREFIX)) {
                topics.put(m.group(1), m.group(3));
            }
        }
        if (topics.isEmpty()) {
            throw new IllegalStateException("no topic rows found in docs/architecture.md");
        }
        return topics;
    }

    /** The five stages: docs/architecture.md's tables, overridden by application.properties where present. */
    static List<Stage> stages() {
        Map<String, String> groups = topicTable();
        List<Stage> stages = new ArrayList<>();
        for (String line : architecture().split("\n")) {
            Matcher m = SERVICE_ROW.matcher(line);
            if (!m.find()) {
                continue;
            }
            String service = m.group(1);
            String stage = service.substring(0, service.length() - "-service".length());
            int port = Integer.parseInt(m.group(2));
            String in = m.group(3);
            String out = m.group(4);
            String group = groups.get(in);
            String source = "docs/architecture.md";

            Path props = root().resolve(service).resolve("src/main/resources/application.properties");
            if (Files.isRegularFile(props)) {
                Properties p = load(props);
                Properties shared = sharedDefaults();
                String port2 = resolve(p.getProperty("quarkus.http.port"), p, shared);
                String in2 = resolve(p.getProperty("mp.messaging.incoming.in.topic"), p, shared);
                String out2 = resolve(p.getProperty("mav.output-topic"), p, shared);
                String group2 = resolve(p.getProperty("mp.messaging.incoming.in.group.id"), p, shared);
                String stage2 = resolve(p.getProperty("mav.stage"), p, shared);
                port = port2 != null ? Integer.parseInt(port2.trim()) : port;
                in = in2 != null ? in2.trim() : in;
                out = out2 != null ? out2.trim() : out;
                group = group2 != null ? group2.trim() : group;
                stage = stage2 != null ? stage2.trim() : stage;
                source = root().relativize(props).toString();
            }
            stages.add(new Stage(service, stage, port, in, out, group, source));
        }
        if (stages.size() != 5) {
            throw new IllegalStateException("expected 5 services in docs/architecture.md, found " + stages);
        }
        return stages;
    }

    /** Shared defaults of every stage (common's microprofile-config.properties), empty when absent. */
    static Properties sharedDefaults() {
        Path shared = root().resolve("common/src/main/resources/META-INF/microprofile-config.properties");
        return Files.isRegularFile(shared) ? load(shared) : new Properties();
    }

    static Properties load(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    /**
     * Resolves {@code ${key}} / {@code ${key:default}} against the service's properties, then the shared
     * defaults; {@code mav.topic-prefix} falls back to {@value #DEFAULT_TOPIC_PREFIX} (its default and the
     * value every deployment uses).
     */
    static String resolve(String value, Properties own, Properties shared) {
        if (value == null) {
            return null;
        }
        String current = value;
        for (int depth = 0; depth < 10 && current.contains("${"); depth++) {
            Matcher m = PLACEHOLDER.matcher(current);
            StringBuilder sb = new StringBuilder();
            while (m.find()) {
                String key = m.group(1);
                String replacement = own.getProperty(key, shared.getProperty(key));
                if (replacement == null) {
                    replacement = m.group(2) != null ? m.group(2)
                            : "mav.topic-prefix".equals(key) ? DEFAULT_TOPIC_PREFIX : null;
                }
                if (replacement == null) {
                    throw new IllegalStateException("cannot resolve ${" + key + "} in '" + value + "'");
                }
                m.appendReplacement(sb, Matcher.quoteReplacement(replacement));
            }
            m.appendTail(sb);
            current = sb.toString();
        }
        return current;
    }

    /** Environment variables named in docs/architecture.md's configuration table. */
    static Set<String> documentedEnv() {
        Set<String> names = new java.util.TreeSet<>();
        Matcher m = Pattern.compile("^\\|\\s*`([A-Z0-9_]+)`(?:\\s*/\\s*`([A-Z0-9_]+)`)?", Pattern.MULTILINE)
                .matcher(architecture());
        while (m.find()) {
            names.add(m.group(1));
            if (m.group(2) != null) {
                names.add(m.group(2));
            }
        }
        return names;
    }

    /** deploy/kafka/topics.txt: topic (with prefix) to [partitions, retention.ms, segment.ms]. */
    static Map<String, long[]> composeTopics() {
        Map<String, long[]> topics = new LinkedHashMap<>();
        for (String line : read(root().resolve("deploy/kafka/topics.txt")).split("\n")) {
            String t = line.trim();
            if (t.isEmpty() || t.startsWith("#")) {
                continue;
            }
            String[] f = t.split("\\s+");
            topics.put(DEFAULT_TOPIC_PREFIX + f[0],
                    new long[] {Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3])});
        }
        return topics;
    }
}
