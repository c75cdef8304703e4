# Sourced by the device scripts of results/wgmma/session*/: a call's steps run most needed first, each
# only while the call's time is left, so a short call still brings back what matters most. Needs
# $budget (seconds the call may use) and $w (the output folder); bash's SECONDS counts from the start.
left() { echo $((budget - SECONDS)); }
step() {  # seconds-needed command...
  local need=$1; shift
  if [ "$(left)" -lt "$need" ]; then echo "SKIPPED (only $(left) s left): $*" | tee -a "$w/skipped.txt"; return; fi
  if declare -F "$1" >/dev/null; then "$@"; else timeout "$(left)" "$@"; fi  # timeout cannot run a shell function
}
# The GPU's name, clocks, power and temperature at the start of the call, into $w/gpu.txt.
gpu_state() { nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv | tee "$w/gpu.txt"; }
# The start every device script shares: `device_start OUTDIR BUDGET TARBALL...` sets $out, $budget
# and $w (OUTDIR/w, created), exports PYTHONUNBUFFERED and SAGEGEN_COMMIT, unpacks each carried
# tarball into .carry and records the GPU's state. (Scripts before session 25 spell it out.)
device_start() {
  out="${1:?OUTDIR}"; budget="${2:-570}"; w="$out/w"; shift 2
  mkdir -p "$w"
  export PYTHONUNBUFFERED=1 SAGEGEN_COMMIT="${SAGEGEN_COMMIT:-unknown}"
  local t
  for t in "$@"; do tar xzf "$t" -C .carry || return 1; done
  gpu_state
}
# `ok NAME COMMAND...`: runs it into $w/NAME.log, tails that, and records "NAME rc=N" in $w/status.txt
# (a later step can test that line). Session 26's scripts spell it out.
ok() {
  local name=$1; shift
  "$@" > "$w/$name.log" 2>&1; local rc=$?
  tail -n 2 "$w/$name.log"; echo "$name rc=$rc" | tee -a "$w/status.txt"
}
