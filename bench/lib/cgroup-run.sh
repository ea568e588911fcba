#!/bin/bash
# Runs a command in cgroup v1 groups of its own (root): cpuacct, so a bench can read the CPU of
# everything it starts (cold-fanout.ts's "CPU during the burst"), and cpu with BENCH_CPU_SHARES
# (default 10240, ten times the default share), so on a machine shared with other work the bench
# gets most of the cores when both want them: its figures then read close to an idle machine's.
# Containers without a `cpu` option stay in these groups (only cpu-limited ones move).
#   bench/lib/cgroup-run.sh node --import tsx bench/cold-fanout.ts
set -u
id="bench-$$"
acct=/sys/fs/cgroup/cpuacct/$id
cpu=/sys/fs/cgroup/cpu/$id
if ! { mkdir -p "$acct" "$cpu" && echo "${BENCH_CPU_SHARES:-10240}" >"$cpu/cpu.shares" &&
  echo $$ >"$acct/tasks" && echo $$ >"$cpu/tasks"; }; then
  echo "cgroup-run: needs root and cgroup v1's cpu and cpuacct hierarchies under /sys/fs/cgroup" >&2
  rmdir "$acct" "$cpu" 2>/dev/null
  exit 2
fi
"$@"
rc=$?
echo $$ >/sys/fs/cgroup/cpuacct/tasks
echo $$ >/sys/fs/cgroup/cpu/tasks
# Empty once the processes are gone (a server's container groups under it go with it).
sleep 0.5
find "$cpu" "$acct" -depth -type d -exec rmdir {} \; 2>/dev/null
exit $rc
