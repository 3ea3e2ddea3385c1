package mav.local;

/** Where the pipeline's Kafka and S3 are, and the names on them. */
record Endpoints(String kafka, String s3, String accessKey, String secretKey, String bucket, String topicPrefix) {

    String topic(String name) {
        return topicPrefix + name;
    }

    /** Without the secret key, so that no message or log that prints endpoints shows it. */
    @Override
    public String toString() {
        return "Endpoints[kafka=" + kafka + ", s3=" + s3 + ", accessKey=" + accessKey + ", secretKey=***, bucket="
                + bucket + ", topicPrefix=" + topicPrefix + "]";
    }
}
