package mav.local;

/** Where the pipeline's Kafka and S3 are, and the names on them. */
record Endpoints(String kafka, String s3, String accessKey, String secretKey, String bucket, String topicPrefix) {

    String topic(String name) {
        return topicPrefix + name;
    }
}
