#!/usr/bin/env bash
# Training speed of a ferbench trial on a GPU: float32, mixed precision, mixed + XLA.
#
#   bash benchmarks/perf/gpu_check.sh              # needs a GPU and FER2013 under $FERBENCH_DATA
#   bash benchmarks/perf/gpu_check.sh --dry-run    # print what would run, run nothing
#
# Runs benchmarks/perf/train_throughput.py once per mode (ferbench recipe only, the
# whole FER2013 training split per epoch), all within GPU_CHECK_BUDGET_S seconds (480,
# 8 minutes, by default; each mode gets what is left, at most a third of the whole),
# and prints training and evaluation images/s per mode and the time one thesis trial
# (scaled-down model, FER2013, 100 epochs plus validation) would take.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
budget="${GPU_CHECK_BUDGET_S:-480}"
python="${PYTHON:-python}"
dry=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry=1 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $arg (use --dry-run or --help)" >&2; exit 2 ;;
  esac
done

modes=("float32|--precision float32 --jit false"
       "mixed|--precision mixed --jit false"
       "mixed + XLA|--precision mixed --jit true")
common="--device gpu --recipes ferbench --images 0 --eval-images 0 --epochs 2 --repeats 1 --no-pipeline"

if [[ $dry == 1 ]]; then
  echo "budget: ${budget} s in all"
  for m in "${modes[@]}"; do
    echo "${m%%|*}: $python $repo/benchmarks/perf/train_throughput.py $common ${m#*|} --json OUT"
  done
  exit 0
fi

# Fail early and clearly where there is no GPU.
if [[ -z "${GPU_CHECK_SKIP_SMI:-}" ]] && ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu_check.sh: no GPU here (nvidia-smi not found); this check needs a GPU" >&2
  exit 3
fi
if ! "$python" - <<'EOF'
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf
gpus = tf.config.list_physical_devices("GPU")
if not gpus:
    sys.exit("gpu_check.sh: no GPU visible to TensorFlow; this check needs a GPU")
print("GPU:", ", ".join(str(tf.config.experimental.get_device_details(g).get("device_name", g.name)) for g in gpus))
EOF
then
  exit 3
fi

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
start=$SECONDS
i=0
for m in "${modes[@]}"; do
  name="${m%%|*}"; flags="${m#*|}"
  left=$(( budget - (SECONDS - start) ))
  share=$(( budget / 3 ))
  limit=$(( left < share ? left : share ))
  if (( limit < 30 )); then
    echo "$name: skipped, ${left} s of the budget left" >&2
    continue
  fi
  echo "== $name (at most ${limit} s)" >&2
  # shellcheck disable=SC2086
  if ! TF_CPP_MIN_LOG_LEVEL=2 timeout --kill-after=10 "$limit" "$python" "$repo/benchmarks/perf/train_throughput.py" \
        $common $flags --json "$out/$i.json" >"$out/$i.log" 2>&1; then
    echo "$name: failed or ran out of time; last lines:" >&2
    tail -n 5 "$out/$i.log" >&2
  fi
  i=$(( i + 1 ))
done

"$python" - "$out" "${modes[@]}" <<'EOF'
import json, sys
from pathlib import Path
out, modes = Path(sys.argv[1]), [m.split("|")[0] for m in sys.argv[2:]]
print(f"{'mode':<12} {'policy':<15} {'train img/s':>12} {'eval img/s':>11} {'steps/exec':>10}  one thesis trial")
machine = None
for i, mode in enumerate(modes):
    p = out / f"{i}.json"
    if not p.exists():
        print(f"{mode:<12} {'-':<15} {'no result':>12}")
        continue
    r = json.loads(p.read_text())
    machine = r["machine"]
    fb = r["ferbench"]
    print(f"{mode:<12} {r['precision']:<15} {fb['train']:>12,.0f} {fb.get('eval', float('nan')):>11,.0f} "
          f"{fb.get('steps_per_execution', '?'):>10}  {r.get('thesis_trial_hours', float('nan')):.2f} h")
if machine:
    print("machine:", machine)
print("one thesis trial: 100 epochs of FER2013 Training (28,709 images) plus validation on PublicTest (3,589) each epoch")
EOF
echo "total ${SECONDS} s" >&2
