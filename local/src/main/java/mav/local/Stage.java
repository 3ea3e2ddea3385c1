package mav.local;

import mav.common.event.StageName;

/** The five stage services as the local stack runs them: module, default port, consumer group, topics. */
enum Stage {
    PRIOR(StageName.PRIOR, "prior-service", 8081, "mav-prior", "prompts", "embeddings"),
    DECODER(StageName.DECODER, "decoder-service", 8082, "mav-decoder", "embeddings", "keyframes"),
    INTERPOLATION(StageName.INTERPOLATION, "interpolation-service", 8083, "mav-interpolation", "keyframes",
            "frames-64"),
    SR_LOW(StageName.SR_LOW, "sr-low-service", 8084, "mav-sr-low", "frames-64", "frames-256"),
    SR_HIGH(StageName.SR_HIGH, "sr-high-service", 8085, "mav-sr-high", "frames-256", "videos");

    /** Every topic of docs/architecture.md, without the prefix. */
    static final String[] TOPICS = {"prompts", "embeddings", "keyframes", "frames-64", "frames-256", "videos", "status",
        "dead-letter"};

    final StageName name;
    final String module;
    final int defaultPort;
    final String group;
    final String inTopic;
    final String outTopic;

    Stage(StageName name, String module, int defaultPort, String group, String inTopic, String outTopic) {
        this.name = name;
        this.module = module;
        this.defaultPort = defaultPort;
        this.group = group;
        this.inTopic = inTopic;
        this.outTopic = outTopic;
    }

    /** {@code prior}, {@code sr-low}, ... as in topics, statuses and metrics. */
    String id() {
        return name.id();
    }

    /** The HTTP port of replica {@code r} (0-based) given the base port of the prior service. */
    int port(int basePort, int replica) {
        return basePort + ordinal() + 10 * replica;
    }

    static Stage parse(String s) {
        for (Stage st : values()) {
            if (st.id().equalsIgnoreCase(s) || st.name.stepsKey().equalsIgnoreCase(s) || st.module.equalsIgnoreCase(s)
                    || st.name().equalsIgnoreCase(s)) {
                return st;
            }
        }
        throw new Args.UsageException("unknown stage '" + s + "' (stages: prior, decoder, interpolation, sr-low, sr-high)");
    }

    static Stage byId(String id) {
        for (Stage st : values()) {
            if (st.id().equals(id)) {
                return st;
            }
        }
        return null;
    }
}
