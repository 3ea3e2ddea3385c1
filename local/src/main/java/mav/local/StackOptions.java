package mav.local;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * How to bring the stack up: embedded broker/S3 on fixed ports (or external ones when {@code externalKafka} /
 * {@code externalS3} are set), the services with their models, replicas and thread settings, and gateway-service
 * on {@code gatewayPort} (0: not started).
 */
record StackOptions(
        int kafkaPort,
        int controllerPort,
        int s3Port,
        int basePort,
        String externalKafka,
        String externalS3,
        String accessKey,
        String secretKey,
        String bucket,
        String topicPrefix,
        int partitions,
        Path modelsDir,
        Map<Stage, Integer> replicas,
        int workers,
        int ortThreads,
        boolean services,
        int readyTimeoutSeconds,
        List<String> serviceJvmOptions,
        int gatewayPort) {

    static final int DEFAULT_KAFKA_PORT = 9092;
    static final int DEFAULT_S3_PORT = 9000;
    static final int DEFAULT_BASE_PORT = 8081;
    static final int DEFAULT_GATEWAY_PORT = 8080;

    /** Reads the stack flags shared by generate, up, submit, top and bench. */
    static StackOptions from(Args a, Layout layout) {
        int kafkaPort = a.intValue("kafka-port", DEFAULT_KAFKA_PORT);
        Path models = a.has("models") ? Path.of(a.get("models")).toAbsolutePath().normalize() : layout.defaultModels();
        if (!a.flag("no-services") && !Layout.isComplete(models)) {
            throw new Args.UsageException("the model repository " + models + " lacks some of " + Layout.MODELS
                    + " (each needs <model>/<version>/manifest.json + model.onnx); train models into models/ or pass"
                    + " --models DIR");
        }
        Map<Stage, Integer> replicas = Args.stageInts(a.get("replicas"), "--replicas");
        int ortThreads = a.intValue("ort-threads", 0);
        return new StackOptions(kafkaPort, a.intValue("controller-port", kafkaPort + 1),
                a.intValue("s3-port", DEFAULT_S3_PORT), a.intValue("http-port", DEFAULT_BASE_PORT),
                a.get("kafka"), a.get("s3"),
                a.get("s3-access-key", "minioadmin"), a.get("s3-secret-key", "minioadmin"),
                a.get("bucket", "mav"), a.get("topic-prefix", "mav."),
                a.intValue("partitions", 4), models, replicas, a.intValue("workers", 1), ortThreads,
                !a.flag("no-services"), a.intValue("ready-timeout", 300), List.of(), 0);
    }

    /** These replicas and models, on free ports (fault injection runs beside whatever else listens). */
    StackOptions onFreePorts(Map<Stage, Integer> replicas, Path models) {
        return new StackOptions(ChildProcess.freePort(), ChildProcess.freePort(), ChildProcess.freePort(),
                ChildProcess.freeBase(), null, null, accessKey, secretKey, bucket, topicPrefix,
                Math.max(partitions, 2), models, replicas, workers, ortThreads, true, readyTimeoutSeconds,
                serviceJvmOptions, 0);
    }

    StackOptions withServiceJvmOptions(List<String> opts) {
        return new StackOptions(kafkaPort, controllerPort, s3Port, basePort, externalKafka, externalS3, accessKey,
                secretKey, bucket, topicPrefix, partitions, modelsDir, replicas, workers, ortThreads, services,
                readyTimeoutSeconds, opts, gatewayPort);
    }

    /** With gateway-service on {@code port} beside the stages (0: none), as {@code ./mav up} runs it. */
    StackOptions withGateway(int port) {
        return new StackOptions(kafkaPort, controllerPort, s3Port, basePort, externalKafka, externalS3, accessKey,
                secretKey, bucket, topicPrefix, partitions, modelsDir, replicas, workers, ortThreads, services,
                readyTimeoutSeconds, serviceJvmOptions, port);
    }
}
