#!/bin/sh
# ONNX Runtime (Java) check of exported models: parity against PyTorch fixtures, or full-size timings.
#   training/tools/ort_check.sh parity common/src/test/resources/fixtures/parity testing/models
#   training/tools/ort_check.sh time models 2
#   training/tools/ort_check.sh plan PLAN.json models 2     (what ./mav bench --compare runs)
R=$HOME/.m2/repository
CP=$R/com/microsoft/onnxruntime/onnxruntime/1.29.0/onnxruntime-1.29.0.jar
for a in databind:2.18.2 core:2.18.2 annotations:2.18.2; do
  n=${a%%:*}; v=${a##*:}; CP=$CP:$R/com/fasterxml/jackson/core/jackson-$n/$v/jackson-$n-$v.jar
done
exec java -cp "$CP" "$(dirname "$0")/OrtCheck.java" "$@"
