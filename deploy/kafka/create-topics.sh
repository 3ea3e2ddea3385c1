#!/bin/bash
# Creates (or grows) the pipeline's topics listed in topics.txt; run by the kafka-init job of docker-compose.yml.
# Idempotent: an existing topic keeps its data; its partition count is raised when topics.txt asks for more
# and its retention and segment time are reset to the listed values.
set -euo pipefail
BOOTSTRAP="${KAFKA_BOOTSTRAP_SERVERS:-kafka:9092}"
PREFIX="${MAV_TOPIC_PREFIX:-mav.}"
TOPICS_FILE="${1:-/etc/mav/topics.txt}"
BIN="${KAFKA_BIN:-/opt/kafka/bin}"

for i in $(seq 1 60); do
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1 && break
  echo "waiting for Kafka at $BOOTSTRAP ($i)"; sleep 2
done

grep -Ev '^[[:space:]]*(#|$)' "$TOPICS_FILE" | while read -r name partitions retention segment; do
  topic="${PREFIX}${name}"
  "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$topic" \
      --partitions "$partitions" --replication-factor 1 --config "retention.ms=$retention" \
      --config "segment.ms=$segment" --config cleanup.policy=delete
  current="$("$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe --topic "$topic" \
      | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -n1)"
  if [ -n "$current" ] && [ "$current" -lt "$partitions" ]; then
    "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --alter --topic "$topic" --partitions "$partitions"
  fi
  "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics --entity-name "$topic" \
      --add-config "retention.ms=$retention,segment.ms=$segment" >/dev/null
  echo "topic $topic: $partitions partitions, retention.ms=$retention, segment.ms=$segment"
done
