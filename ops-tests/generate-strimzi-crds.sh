#!/usr/bin/env bash
# Regenerates the Strimzi CRDs that ops-tests validates k8s/base/kafka against, for the operator version the
# guide installs (docs/operations.md). Strimzi makes its CRD files with its own crd-generator from the classes of
# its api module; both are published on Maven Central, so the same generator run here gives the CRDs of that
# release without fetching anything else. Both jars are Java 21 class files: set JAVA_HOME to a JDK >= 21.
#   JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64 ops-tests/generate-strimzi-crds.sh 1.2.0
set -euo pipefail
version="${1:?usage: $0 <strimzi version, e.g. 1.2.0>}"
cd "$(dirname "$0")"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
dest="src/test/resources/crds/strimzi-${version}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat > "$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>mav</groupId><artifactId>strimzi-crds</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>${version}</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>${version}</version></dependency>
  </dependencies>
</project>
POM
mvn -q -B -f "$work/pom.xml" dependency:build-classpath -Dmdep.outputFile="$work/cp.txt"
mkdir -p "$dest"
# Only the kinds this project deploys; v1 is the only API version Strimzi >= 1.0 serves.
"$java" -cp "$(cat "$work/cp.txt")" io.strimzi.crdgenerator.CrdGenerator --yaml \
    --crd-api-version v1 --api-versions v1 --storage-version v1 \
    io.strimzi.api.kafka.model.kafka.Kafka="$dest/kafkas.kafka.strimzi.io.yaml" \
    io.strimzi.api.kafka.model.nodepool.KafkaNodePool="$dest/kafkanodepools.kafka.strimzi.io.yaml" \
    io.strimzi.api.kafka.model.topic.KafkaTopic="$dest/kafkatopics.kafka.strimzi.io.yaml"
ls -l "$dest"
