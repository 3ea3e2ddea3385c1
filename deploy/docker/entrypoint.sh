#!/bin/sh
# Entrypoint of every stage image (deploy/docker/Dockerfile).
#
# When MAV_MODELS_S3_URI is set (s3://<bucket>[/<prefix>], e.g. s3://mav-models or s3://mav-models/2026-11),
# the model repository under it is mirrored into MAV_MODELS_DIR before java starts, so a new model version
# is picked up by a rolling restart. Only the model directories listed in MAV_MODELS_S3_INCLUDE
# (space or comma separated, e.g. "text_encoder prior") are copied; empty copies the whole repository.
#
#   MAV_MODELS_S3_ENDPOINT   S3 endpoint of the models bucket (default: MAV_S3_ENDPOINT)
#   MAV_S3_ACCESS_KEY / MAV_S3_SECRET_KEY  credentials (shared with the service; never printed)
#   MAV_MODELS_S3_REQUIRED   true (default): fail the container when the sync fails; false: start with
#                            whatever MAV_MODELS_DIR already holds (baked or mounted models)
set -eu

log() { echo "mav-entrypoint: $*" >&2; }

sync_models() {
  uri="${MAV_MODELS_S3_URI#s3://}"
  bucket="${uri%%/*}"
  prefix=""
  case "$uri" in */*) prefix="${uri#*/}"; prefix="${prefix%/}" ;; esac
  endpoint="${MAV_MODELS_S3_ENDPOINT:-${MAV_S3_ENDPOINT:-http://localhost:9000}}"
  dest="${MAV_MODELS_DIR:-models}"
  src="models/${bucket}${prefix:+/$prefix}"

  export MC_CONFIG_DIR="${MC_CONFIG_DIR:-/tmp/.mc}"
  # Credentials go through the environment (MC_HOST_<alias>), never on a command line or in a log.
  MC_HOST_models="$(printf '%s' "$endpoint" | sed -E "s#^(https?://)#\1$(urlencode "${MAV_S3_ACCESS_KEY:-minioadmin}"):$(urlencode "${MAV_S3_SECRET_KEY:-minioadmin}")@#")"
  export MC_HOST_models

  mkdir -p "$dest"
  include="$(printf '%s' "${MAV_MODELS_S3_INCLUDE:-}" | tr ',' ' ')"
  if [ -z "$include" ]; then
    log "mirroring s3://${bucket}${prefix:+/$prefix} from ${endpoint} into ${dest}"
    mc --quiet --no-color mirror --overwrite --remove "$src" "$dest" || return 1
  else
    for model in $include; do
      log "mirroring s3://${bucket}${prefix:+/$prefix}/${model} from ${endpoint} into ${dest}/${model}"
      mkdir -p "${dest}/${model}" || return 1
      mc --quiet --no-color mirror --overwrite --remove "${src}/${model}" "${dest}/${model}" || return 1
    done
  fi
  unset MC_HOST_models
}

# Percent-encodes a credential for the MC_HOST_<alias> URL form (POSIX sh, no gawk needed).
urlencode() {
  for h in $(printf '%s' "$1" | od -An -tx1 -v); do
    d=$((0x$h))
    if { [ "$d" -ge 48 ] && [ "$d" -le 57 ]; } || { [ "$d" -ge 65 ] && [ "$d" -le 90 ]; } \
       || { [ "$d" -ge 97 ] && [ "$d" -le 122 ]; } || [ "$d" -eq 45 ] || [ "$d" -eq 46 ] \
       || [ "$d" -eq 95 ] || [ "$d" -eq 126 ]; then
      # shellcheck disable=SC2059
      printf "\\$(printf '%03o' "$d")"
    else
      printf '%%%s' "$(printf '%s' "$h" | tr 'a-f' 'A-F')"
    fi
  done
}

if [ -n "${MAV_MODELS_S3_URI:-}" ]; then
  if ! sync_models; then
    if [ "${MAV_MODELS_S3_REQUIRED:-true}" = "true" ]; then
      log "model sync from ${MAV_MODELS_S3_URI} failed"
      exit 1
    fi
    log "model sync from ${MAV_MODELS_S3_URI} failed; starting with the models already in ${MAV_MODELS_DIR:-models}"
  fi
fi

# JAVA_OPTS is split on spaces on purpose (it is a list of JVM flags).
# shellcheck disable=SC2086
if [ "${1:-}" = "java" ]; then
  shift
  exec java ${JAVA_OPTS:-} "$@"
fi
exec "$@"
