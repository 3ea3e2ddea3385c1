#!/bin/sh
# Stage throughput with continuous batching off and on (common/bench/BatchBench.java), on the compiled common module.
#   common/bench/batch_bench.sh models [ORT_THREADS] [WAIT_MS] [MAX_CALLS] [model ...]  (what ./mav bench --batching runs)
# Needs `mvn -q -pl common compile` first.
D=$(cd "$(dirname "$0")/.." && pwd)
R=$HOME/.m2/repository
CP=$D/target/classes:$R/com/microsoft/onnxruntime/onnxruntime/1.29.0/onnxruntime-1.29.0.jar
for a in databind:2.18.2 core:2.18.2 annotations:2.18.2; do
  n=${a%%:*}; v=${a##*:}; CP=$CP:$R/com/fasterxml/jackson/core/jackson-$n/$v/jackson-$n-$v.jar
done
exec java -cp "$CP" "$D/bench/BatchBench.java" "$@"
