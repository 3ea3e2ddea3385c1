package mav.local;

import java.util.LinkedHashMap;
import java.util.Map;

/** Where the pipeline's Kafka and S3 are, and the names on them. */
record Endpoints(String kafka, String s3, String accessKey, String secretKey, String bucket, String topicPrefix) {

    String topic(String name) {
        return topicPrefix + name;
    }

    /** The environment a service (stage or gateway) reads these from. */
    Map<String, String> serviceEnv() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("KAFKA_BOOTSTRAP_SERVERS", kafka);
        env.put("MAV_S3_ENDPOINT", s3);
        env.put("MAV_S3_ACCESS_KEY", accessKey);
        env.put("MAV_S3_SECRET_KEY", secretKey);
        env.put("MAV_S3_BUCKET", bucket);
        env.put("MAV_TOPIC_PREFIX", topicPrefix);
        return env;
    }

    /** Without the secret key, so that no message or log that prints endpoints shows it. */
    @Override
    public String toString() {
        return "Endpoints[kafka=" + kafka + ", s3=" + s3 + ", accessKey=" + accessKey + ", secretKey=***, bucket="
                + bucket + ", topicPrefix=" + topicPrefix + "]";
    }
}
