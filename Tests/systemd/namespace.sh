# A real systemd 252+ as PID 1 of private namespaces, for the unit tests in run. Source
# it; it defines:
#   ns_unsupported        prints why this machine cannot run it (empty: it can); it boots
#                         nothing, but makes every mount boot-systemd makes in a
#                         throwaway namespace
#   ns_start WORK STAGE   boots systemd (units from the STAGE tree, scratch in WORK)
#   ns CMD...             runs CMD inside the namespaces, as root, with a clean environment
#   ns_stop               kills everything in the namespace and removes its cgroup
# The host's /dev, /etc, /usr, /var, /tmp, sysctls, hostname, network and unit
# directories are never written: see boot-systemd for the mounts.

NS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NS_PID=""
NS_CGROUP=""
NS_UNSHARE=(unshare --fork --pid --mount --mount-proc --cgroup --uts --ipc --net --kill-child)

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
  local tool
  for tool in unshare nsenter setsid setpriv systemctl journalctl systemd-analyze systemd-sysusers \
              systemd-tmpfiles useradd ps ldd; do
    PATH=/usr/sbin:/usr/bin:/sbin:/bin command -v "$tool" >/dev/null || { echo "no $tool in /usr/sbin:/usr/bin:/sbin:/bin"; return; }
  done
  # make install links the Swift runtime statically.
  local swift_bin
  swift_bin=$(readlink -f "$(command -v swift || echo /opt/swift/usr/bin/swift)")
  [ -e "$(dirname "$swift_bin")/../lib/swift_static/linux/static-stdlib-args.lnk" ] ||
    { echo "the Swift toolchain at $(dirname "$swift_bin") has no static runtime (make install needs it)"; return; }
  local root
  root=$(ns_cgroup_root)
  [ -n "$root" ] || { echo "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified"; return; }
  grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null || true
  grep -qw overlay /proc/filesystems || { echo "the kernel has no overlay file system"; return; }
  # The real thing, minus systemd: a fresh cgroup, the namespaces and every mount.
  local scratch out rc cg="$root/adpilot-probe-$$"
  scratch=$(mktemp -d)
  mkdir -p "$scratch/work/units" "$scratch/stage/etc" "$scratch/stage/usr"
  : > "$scratch/work/console.log"
  if ! mkdir "$cg" 2>/dev/null; then
    echo "cannot create a cgroup in $root"
    rm -rf "$scratch"
    return
  fi
  out=$( (echo "$BASHPID" > "$cg/cgroup.procs" || exit 97
          exec "${NS_UNSHARE[@]}" "$NS_DIR/boot-systemd" --probe "$scratch/work" "$scratch/stage") 2>&1)
  rc=$?
  rmdir "$cg" 2>/dev/null
  rm -rf "$scratch"
  if [ $rc = 97 ]; then
    echo "cannot move a process into a new cgroup under $root"
  elif [ $rc != 0 ]; then
    echo "cannot make the namespace's mounts here: $(printf '%s' "$out" | tail -1)"
  fi
}

ns_write_units() {
  local units=$1 t u
  mkdir -p "$units"
  for t in sysinit basic sockets timers paths slices local-fs swap shutdown multi-user \
           network network-online nss-lookup remote-fs; do
    printf '[Unit]\nDescription=%s (empty stub for the unit test)\n' "$t" > "$units/$t.target"
  done
  printf '[Unit]\nDescription=AdPilot unit test\nWants=systemd-journald.service\n' > "$units/adpilot-test.target"
  for u in systemd-journald.service systemd-journald.socket; do
    ln -sf "/lib/systemd/system/$u" "$units/$u"
  done
}

# Kills every process in a cgroup tree, then removes it, deepest first.
ns_remove_cgroup() {
  local cg=$1 i
  [ -d "$cg" ] || return 0
  if [ -e "$cg/cgroup.kill" ]; then
    echo 1 > "$cg/cgroup.kill" 2>/dev/null
  else
    find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null
  fi
  for i in $(seq 1 100); do
    find "$cg" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
    rmdir "$cg" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "warning: could not remove $cg" >&2
  return 1
}

ns_start() {
  local work=$1 stage=$2 root launcher i stale
  : > "$work/console.log"
  ns_write_units "$work/units"
  root=$(ns_cgroup_root)
  # A namespace left by a run that was killed outright (its cgroup is named after its pid).
  for stale in "$root"/adpilot-test-*; do
    [ -d "$stale" ] && ! kill -0 "${stale##*-}" 2>/dev/null && ns_remove_cgroup "$stale"
  done
  NS_CGROUP="$root/adpilot-test-$$"
  mkdir "$NS_CGROUP" || { echo "cannot create the cgroup $NS_CGROUP" >&2; return 1; }
  # The launcher moves itself into the fresh cgroup, so the namespace is rooted there and
  # everything systemd starts can be found and killed afterwards.
  (echo "$BASHPID" > "$NS_CGROUP/cgroup.procs" || exit 97
   exec setsid "${NS_UNSHARE[@]}" "$NS_DIR/boot-systemd" "$work" "$stage") </dev/null >"$work/boot.log" 2>&1 &
  launcher=$!
  disown "$launcher"
  for i in $(seq 1 200); do
    NS_PID=$(pgrep -P "$launcher" -x systemd || true)
    [ -n "$NS_PID" ] && break
    kill -0 "$launcher" 2>/dev/null || break
    sleep 0.05
  done
  if [ -z "$NS_PID" ]; then
    echo "systemd did not start in the namespace:" >&2
    cat "$work/boot.log" >&2
    return 1
  fi
  for i in $(seq 1 600); do
    if ns systemctl is-active --quiet adpilot-test.target systemd-journald.service 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "systemd in the namespace did not reach adpilot-test.target with journald in 30 s:" >&2
  ns systemctl --no-pager status adpilot-test.target systemd-journald.service >&2 2>&1
  tail -50 "$work/boot.log" "$work/console.log" >&2
  return 1
}

ns() {
  nsenter -t "$NS_PID" -m -p -u -i -n -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"
}

ns_stop() {
  NS_PID=""
  [ -n "$NS_CGROUP" ] || return 0
  ns_remove_cgroup "$NS_CGROUP"
  NS_CGROUP=""
}
