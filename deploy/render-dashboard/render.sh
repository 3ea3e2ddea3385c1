#!/usr/bin/env bash
# deploy/render-dashboard/render.sh — draw the Grafana dashboard (k8s/base/monitoring/mav-pipeline-dashboard.json)
# from real metrics of a local run, without Grafana or Docker.
#
# Needs a running stack (`./mav up`), /usr/bin/prometheus (Debian package `prometheus`) and matplotlib
# (`apt-get install python3-matplotlib`). It
#   1. starts a throwaway Prometheus on a free port (storage in a temp dir, deleted afterwards) that scrapes every
#      service URL of .mav/stack.properties (default localhost:8081..8085) at /q/metrics every 2 s;
#   2. runs the workload: `./mav bench --jobs 4 --steps 2` by default, or whatever you ask for (below);
#   3. keeps scraping a few seconds more, then runs every panel's PromQL through /api/v1/query_range over the
#      whole run ($stage = All = .*) and draws one PNG, panels laid out as in Grafana (render.py beside this
#      script), and prints the last value of every panel and series, plus any metric name the dashboard uses
#      that the services never exported. kafka_* (kafka exporter) and DCGM_* (GPU) panels say why they are empty.
#
# Usage (from anywhere; paths are relative to the repository root):
#   deploy/render-dashboard/render.sh                             # bench --jobs 4 --steps 2, -> docs/img/dashboard.png
#   deploy/render-dashboard/render.sh --bench "--jobs 8 --steps 4 --replicas sr-high=2"
#   deploy/render-dashboard/render.sh --watch 300                 # no bench: scrape your own workload for 300 s
#   deploy/render-dashboard/render.sh --watch-pid PID             # no bench: scrape until process PID exits
#   options: --out FILE.png   --scrape-interval S (2)   --tail S (seconds scraped after the workload, 8)
#            --keep-tsdb DIR  (keep Prometheus' data and the time range there instead of deleting them)
#   deploy/render-dashboard/render.sh --from-tsdb DIR [--out F]    # redraw from a kept run; needs no stack
# Example, the whole run:  ./mav up && deploy/render-dashboard/render.sh; ./mav down
# Exit status: the workload's (bench) status if it failed, else render.py's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/deploy/render-dashboard"
PY=/usr/bin/python3; [[ -x $PY ]] || PY=python3
PROM_BIN=${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}

bench_args="--jobs 4 --steps 2"
mode=bench watch_s="" watch_pid="" out="$ROOT/docs/img/dashboard.png" interval=2 tail_s=8 keep=""
while (( $# )); do
  case "$1" in
    --bench) bench_args="$2"; mode=bench; shift 2 ;;
    --watch) watch_s="$2"; mode=watch; shift 2 ;;
    --watch-pid) watch_pid="$2"; mode=pid; shift 2 ;;
    --out) out="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --scrape-interval) interval="$2"; shift 2 ;;
    --tail) tail_s="$2"; shift 2 ;;
    --keep-tsdb) keep="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --from-tsdb) keep="$(cd "$2" && pwd)"; mode=replay; shift 2 ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "render: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

log() { echo "render: $*" >&2; }

# the services to scrape: what ./mav up wrote, else the default ports
targets=()
if [[ $mode == replay ]]; then
  [[ -f $keep/range ]] || { log "$keep/range missing: not a directory written by --keep-tsdb"; exit 2; }
  read -r start end interval < "$keep/range"
  note=$(sed -n 2p "$keep/range")
elif [[ -f "$ROOT/.mav/stack.properties" ]]; then
  while IFS= read -r u; do
    u=${u#http://}; u=${u%%/*}; [[ -n $u ]] && targets+=("$u")
  done < <(grep -E '^url\.' "$ROOT/.mav/stack.properties" | cut -d= -f2- | tr -d '\\' | sort -u)
fi
if [[ $mode != replay ]]; then
  (( ${#targets[@]} )) || targets=(localhost:8081 localhost:8082 localhost:8083 localhost:8084 localhost:8085)
  up=0
  for t in "${targets[@]}"; do curl -fs -o /dev/null --max-time 3 "http://$t/q/metrics" && up=$((up + 1)) || true; done
  (( up > 0 )) || { log "no service answers on ${targets[*]} (/q/metrics): start the stack with ./mav up"; exit 3; }
  log "scraping ${targets[*]} ($up answering) every ${interval}s"
fi

port=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tmp=$(mktemp -d /tmp/mav-render-dashboard.XXXXXX)
tsdb=${keep:-$tmp/data}
prom_pid=""
cleanup() {
  if [[ -n $prom_pid ]]; then kill "$prom_pid" 2>/dev/null || true; wait "$prom_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if (( ${#targets[@]} )); then
  {
    echo "global: {scrape_interval: ${interval}s, evaluation_interval: ${interval}s}"
    echo "scrape_configs:"
    echo "  - job_name: mav-stages"
    echo "    metrics_path: /q/metrics"
    echo "    static_configs:"
    for t in "${targets[@]}"; do echo "      - targets: [\"$t\"]"; done
  } > "$tmp/prometheus.yml"
else
  echo "scrape_configs: []" > "$tmp/prometheus.yml"   # --from-tsdb: only serve the kept data
fi

"$PROM_BIN" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tsdb" \
  --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1d \
  > "$tmp/prometheus.log" 2>&1 &
prom_pid=$!
prom="http://127.0.0.1:$port"
for _ in $(seq 60); do
  curl -fsS -o /dev/null "$prom/-/ready" 2>/dev/null && break
  kill -0 "$prom_pid" 2>/dev/null || { log "prometheus exited:"; tail -20 "$tmp/prometheus.log" >&2; exit 3; }
  sleep 0.5
done
log "prometheus on $prom (pid $prom_pid), data in $tsdb"

rc=0
if [[ $mode != replay ]]; then
  start=$(date +%s)
  sleep $((interval * 2 + 1))   # a baseline sample of every series before the workload
  case $mode in
    bench) log "./mav bench $bench_args"
           # shellcheck disable=SC2086
           (cd "$ROOT" && ./mav bench $bench_args) || rc=$? ;;
    watch) log "scraping for ${watch_s}s"; sleep "$watch_s" ;;
    pid)   log "scraping until pid $watch_pid exits"
           while kill -0 "$watch_pid" 2>/dev/null; do sleep 1; done ;;
  esac
  sleep "$tail_s"
  end=$(date +%s)
  note=""
  [[ $mode == bench ]] && note="workload: ./mav bench $bench_args"
  if [[ -n $keep ]]; then printf '%s %s %s\n%s\n' "$start" "$end" "$interval" "$note" > "$keep/range"; fi
fi
"$PY" "$HERE/render.py" --prom "$prom" --start "$start" --end "$end" --step "$interval" \
  --dashboard "$ROOT/k8s/base/monitoring/mav-pipeline-dashboard.json" --out "$out" --note "$note" || { r=$?; (( rc )) || rc=$r; }
(( rc == 0 )) || log "exit $rc"
exit $rc
