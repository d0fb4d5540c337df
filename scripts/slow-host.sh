#!/usr/bin/env bash
# Run a command as if on a slower host of this machine kind: its whole process tree is capped (cgroup v1 or v2 CPU
# quota, root only) to a fraction of the machine's CPU time, e.g. 0.45 = "2.2x slower". The quota is spread over a
# short period (5 ms) so the cap slows work down instead of freezing it for tens of milliseconds at a time.
# Usage: sudo scripts/slow-host.sh 0.45 make performance
set -euo pipefail

fraction=${1:?usage: slow-host.sh FRACTION COMMAND...}
shift
[ "$#" -gt 0 ] || { echo "usage: slow-host.sh FRACTION COMMAND..." >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slow-host.sh needs root (it creates a cgroup)" >&2; exit 2; }

period_us=5000
cpus=$(nproc)
quota_us=$(python3 -c "import sys; print(max(1000, int(float(sys.argv[1]) * int(sys.argv[2]) * int(sys.argv[3]))))" \
  "$fraction" "$cpus" "$period_us")
name="llm-provider-slow-host-$$"

if [ -d /sys/fs/cgroup/cpu ] && [ -w /sys/fs/cgroup/cpu ]; then  # cgroup v1
  group=/sys/fs/cgroup/cpu/$name
  mkdir "$group"
  echo "$period_us" > "$group/cpu.cfs_period_us"
  echo "$quota_us" > "$group/cpu.cfs_quota_us"
else  # cgroup v2 (the cpu controller must be enabled for the root's children)
  group=/sys/fs/cgroup/$name
  mkdir "$group"
  echo "$quota_us $period_us" > "$group/cpu.max"
fi
cleanup() {
  # Move this shell back to the root group first; a group with members cannot be removed.
  echo $$ > "$(dirname "$group")/cgroup.procs" 2>/dev/null || true
  rmdir "$group" 2>/dev/null || true
}
trap cleanup EXIT
echo $$ > "$group/cgroup.procs"
echo "slow-host: ${fraction} of ${cpus} CPUs (quota ${quota_us} us per ${period_us} us) for: $*" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
