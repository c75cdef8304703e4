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
