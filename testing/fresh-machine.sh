#!/usr/bin/env bash
# Proves the README's two commands on a truly fresh system: a minimal Debian root made with debootstrap, in which
# the repository is cloned and the quick start's `./mav generate …` and `./mav test` run as a new user would run
# them. Prints how long each took and its exit status; exits non-zero unless both passed and the MP4 exists.
#
#   sudo testing/fresh-machine.sh [--keep] [DIR]     (DIR: where the root goes, default /var/tmp/mav-fresh-root)
#
# Needs root (debootstrap, chroot, mounts) and the network to Debian's mirror, Maven Central and the npm registry.
# The root shares this machine's network, so ports 9000, 9092, 9093 and 8081-8085 must be free while it runs.
# What is cloned is the committed HEAD of this repository, not the working tree.
set -euo pipefail

keep=false
if [[ "${1:-}" == "--keep" ]]; then keep=true; shift; fi
DIR="${1:-/var/tmp/mav-fresh-root}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=bookworm
MIRROR="${MAV_DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { echo "fresh-machine: $*"; }
[[ $(id -u) -eq 0 ]] || { say "run as root (debootstrap and chroot need it)"; exit 2; }

# the README's own commands, so that what is proven is what the README says
GENERATE=$(grep -m1 '^\./mav generate ' "$REPO/README.md")
TEST=$(grep -m1 '^\./mav test' "$REPO/README.md")
[[ -n "$GENERATE" && -n "$TEST" ]] || { say "README.md has no './mav generate' or './mav test' line"; exit 2; }

for port in 9000 9092 9093 8081 8082 8083 8084 8085; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    say "port $port is in use on this machine; the fresh root shares its network: stop what holds it"; exit 2
  fi
done

command -v debootstrap >/dev/null || {
  say "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
}

cleanup() {
  for m in src proc sys dev; do
    mountpoint -q "$DIR/$m" 2>/dev/null && umount -R -l "$DIR/$m" || true
  done
  $keep || rm -rf --one-file-system "$DIR"
}
trap cleanup EXIT

if [[ -e "$DIR" ]]; then
  say "$DIR exists; removing it for a fresh root"
  (keep=false; cleanup)
fi
t0=$SECONDS
say "debootstrap --variant=minbase $SUITE $DIR"
debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$DIR.debootstrap.log" 2>&1 \
  || { tail -20 "$DIR.debootstrap.log"; exit 1; }
say "root made in $((SECONDS - t0)) s ($(du -sh --one-file-system "$DIR" | cut -f1))"

cp /etc/resolv.conf "$DIR/etc/resolv.conf"
# what an installed system has and debootstrap leaves out: without it `localhost` does not resolve (kcat fails)
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$DIR/etc/hosts"
# This machine's network may pass TLS through a proxy whose CA only this machine trusts: the root gets the same
# local CAs (and the environment that points Node at them), or no registry would answer it. Nothing else is copied.
cp -a /usr/local/share/ca-certificates/. "$DIR/usr/local/share/ca-certificates/" 2>/dev/null || true
mount -t proc proc "$DIR/proc"
mount --rbind /sys "$DIR/sys" && mount --make-rslave "$DIR/sys"
mount --rbind /dev "$DIR/dev" && mount --make-rslave "$DIR/dev"
mkdir -p "$DIR/src"
mount --bind -o ro "$REPO" "$DIR/src"

in_root() { chroot "$DIR" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 ${NODE_EXTRA_CA_CERTS:+NODE_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS} \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$1"; }

# a user who runs the README's commands has cloned the repository: git is the one thing given
say "apt-get install git ca-certificates (to clone)"
in_root "apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends git ca-certificates >/dev/null && update-ca-certificates >/dev/null"
in_root "git config --global --add safe.directory '*' && git clone -q /src /root/mav && git -C /root/mav log -1 --format='cloned %h %s'"

run_step() {  # name, command: runs it in the clone, prints its time and exit status
  local name="$1" cmd="$2" start rc
  say "running: $cmd"
  start=$SECONDS
  set +e
  in_root "cd /root/mav && $cmd" 2>&1 | tee "$DIR.$name.log" | sed "s/^/  [$name] /"
  rc=${PIPESTATUS[0]}
  set -e
  echo "$name|$cmd|$((SECONDS - start))|$rc" >>"$DIR.summary"
  return 0
}

rm -f "$DIR.summary"
run_step generate "$GENERATE"
run_step test "$TEST"

mp4=$(tail -1 "$DIR.generate.log")
echo
say "summary ($(date -u +%Y-%m-%dT%H:%MZ), Debian $SUITE minbase, $(nproc) cores, commit $(git -C "$DIR/root/mav" rev-parse --short HEAD))"
ok=true
while IFS='|' read -r name cmd secs rc; do
  printf '  %-8s %4d s  exit %d   %s\n' "$name" "$secs" "$rc" "$cmd"
  [[ $rc -eq 0 ]] || ok=false
done <"$DIR.summary"
if [[ "$mp4" == *.mp4 && -f "$DIR/root/mav/${mp4#/root/mav/}" ]] || [[ -f "$DIR$mp4" ]]; then
  say "the MP4: $mp4 ($(stat -c %s "$DIR/root/mav/${mp4#/root/mav/}" 2>/dev/null || stat -c %s "$DIR$mp4") bytes)"
else
  say "generate did not print an MP4 path as its last line (got: $mp4)"; ok=false
fi
grep -h 'Tests run:.*Skipped' "$DIR.test.log" | tail -1 | sed 's/^/  last Maven tally: /' || true
grep -h '^Ran \|^OK' "$DIR.test.log" | sed 's/^/  training tests: /' || true
$ok && say "PASS: both README commands work on a fresh Debian root" || { say "FAIL"; exit 1; }
