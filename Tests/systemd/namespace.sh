# A real systemd 252+ as PID 1 of a private PID, mount and cgroup namespace, for the
# unit tests in run. Source it; it defines:
#   ns_unsupported        prints why this machine cannot run it (empty: it can)
#   ns_start WORK STAGE   boots systemd (units from the STAGE tree, scratch in WORK)
#   ns CMD...             runs CMD inside the namespace, as root
#   ns_stop               kills the namespace and removes its cgroup
# The host's /etc, /usr, /var/lib and unit directories are never written: see
# boot-systemd for the mounts.

NS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS_PID=""
NS_CGROUP=""

ns_cgroup_root() {
  if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
    echo /sys/fs/cgroup
  elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
    echo /sys/fs/cgroup/unified
  fi
}

ns_unsupported() {
  if [ "$(id -u)" != 0 ]; then echo "not root (systemd needs root to boot in a namespace)"; return; fi
  [ -x /lib/systemd/systemd ] || { echo "no /lib/systemd/systemd (apt-get install systemd)"; return; }
  for tool in unshare nsenter setsid setpriv systemctl journalctl systemd-analyze systemd-sysusers \
              systemd-tmpfiles useradd ps; do
    command -v "$tool" >/dev/null || { echo "no $tool on PATH"; return; }
  done
  [ -n "$(ns_cgroup_root)" ] || { echo "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified"; return; }
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlay file system"; return; }
  unshare --pid --mount --cgroup --fork true 2>/dev/null || { echo "unshare --pid --mount --cgroup is refused here (a container without CAP_SYS_ADMIN?)"; return; }
}

ns_write_units() {
  local units=$1 t
  mkdir -p "$units"
  for t in sysinit basic sockets timers paths slices local-fs swap shutdown multi-user \
           network network-online nss-lookup remote-fs; do
    printf '[Unit]\nDescription=%s (empty stub for the unit test)\n' "$t" > "$units/$t.target"
  done
  printf '[Unit]\nDescription=AdPilot unit test\nWants=systemd-journald.service\n' > "$units/adpilot-test.target"
  for u in systemd-journald.service systemd-journald.socket systemd-journald-dev-log.socket; do
    ln -sf "/lib/systemd/system/$u" "$units/$u"
  done
}

ns_start() {
  local work=$1 stage=$2 root launcher i
  : > "$work/console.log"
  ns_write_units "$work/units"
  root=$(ns_cgroup_root)
  NS_CGROUP="$root/adpilot-test-$$"
  mkdir -p "$NS_CGROUP"
  # The launcher moves itself into a fresh cgroup, so the namespace is rooted there and
  # everything systemd starts can be found and removed afterwards.
  (echo "$BASHPID" > "$NS_CGROUP/cgroup.procs"
   exec setsid unshare --fork --pid --mount --mount-proc --cgroup --kill-child \
     "$NS_DIR/boot-systemd" "$work" "$stage") </dev/null >"$work/boot.log" 2>&1 &
  launcher=$!
  for i in $(seq 1 100); do
    NS_PID=$(pgrep -P "$launcher" -x systemd || true)
    [ -n "$NS_PID" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$NS_PID" ]; then
    echo "systemd did not start in the namespace:" >&2
    cat "$work/boot.log" "$work/console.log" >&2
    return 1
  fi
  for i in $(seq 1 200); do
    if ns systemctl is-active --quiet adpilot-test.target systemd-journald.service 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "systemd in the namespace did not reach adpilot-test.target with journald in 10 s:" >&2
  ns systemctl --no-pager status adpilot-test.target systemd-journald.service >&2 2>&1
  tail -50 "$work/boot.log" "$work/console.log" >&2
  return 1
}

ns() {
  nsenter -t "$NS_PID" -m -p -- "$@"
}

ns_stop() {
  [ -n "$NS_PID" ] && kill -9 "$NS_PID" 2>/dev/null
  NS_PID=""
  [ -n "$NS_CGROUP" ] || return 0
  local i
  for i in $(seq 1 100); do
    # Depth first: a cgroup can only be removed once it has no children or processes.
    find "$NS_CGROUP" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
    rmdir "$NS_CGROUP" 2>/dev/null && break
    sleep 0.05
  done
  [ -d "$NS_CGROUP" ] && echo "warning: could not remove $NS_CGROUP" >&2
  NS_CGROUP=""
  return 0
}
