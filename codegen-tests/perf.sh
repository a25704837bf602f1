#!/usr/bin/env bash
# Codegen time, rustc compile time, riscv32imc code size and instructions per inference of
# every whole-model fixture, and the instructions per inference on Xtensa. Prints markdown
# tables; asserts nothing.
#
#   codegen-tests/perf.sh                 # from the repository root: print the tables
#   codegen-tests/perf.sh --write-docs    # and write them into docs/performance.md, recurrent.md, benchmarks.md
#
# --write-docs replaces the tables between `<!-- perf:begin riscv32imc -->` /
# `<!-- perf:begin isa -->` and `<!-- perf:end -->` in docs/performance.md (review the diff
# and commit it). The test suite checks their deterministic columns: MACs, weights and arena
# bytes against the modules' headers (codegen-tests/tests/doc_figures.rs), instructions per
# inference against its own qemu runs (tests/qemu.rs, tests/xtensa.rs). So after a change
# that moves them, this command is the one to rerun. It needs everything below, and refuses
# the options that change what is measured.
#
# Needs: the riscv32imc-unknown-none-elf target, llvm-size (or rust-size from cargo-binutils
# with `rustup component add llvm-tools`), qemu-system-riscv32 for the riscv32imc instruction
# counts, and what tests/xtensa.rs needs for the Xtensa ones (`cargo xtask setup` installs
# all of it). Works in a temporary directory; the repository is not written, except the docs
# with --write-docs.
#
# - Codegen: the CLI of the README's `cargo run -- generate` (the dev profile, whose build
#   the test suite shares; ONNX2ESP_CLI=path/to/onnx2esp for another, e.g. a release build),
#   `onnx2esp generate`, best of 5 runs (wall clock, includes process start and reading the
#   model), with the default weights-file threshold: the sizes
#   of the module (.rs) and of its weights file (.weights.bin, — when every weight is inline)
#   follow. The models are copied into the temporary directory first, so that the module's
#   header (which names the model relative to the module) and its size do not depend on where
#   the repository is. The modules are generated with `--target-cpu esp32c3` (the riscv32imc
#   profile; PERF_TARGET_CPU=... for another). ONNX2ESP_GENERATE_ARGS adds arguments to every
#   run, e.g. `--inline-weights` to compare against modules with every weight inline.
# - PERF_ONLY=NAME measures that fixture only (and counts no instructions); PERF_QEMU=0
#   skips the instruction counts.
# - Compile and size: each generated module alone, wrapped in a `#![no_std]` lib crate with a
#   `static mut MODEL: Model = Model::new()` (so the arena shows as .bss), compiled by rustc to
#   one object for riscv32imc with opt-level s and 3 (codegen-units=1, panic=abort; wall
#   clock, best of 3). Sizes are the object's sections: .text* (code), .rodata*/.srodata*
#   (weights, tables, constants), .bss*/.sbss* (the arena). Functions from core and
#   compiler_builtins that are not inlined (soft-float, panics) are not counted; they are
#   shared with the rest of any firmware.
# - Instructions: codegen-tests/mcu-runner under qemu (minstret, -icount shift=0), built with
#   opt-level 3 and s (its release profile: lto, codegen-units=1), mean over every recorded
#   sample of each fixture (MCU_RUNNER_SAMPLES=n: at most n).
# - Xtensa: `cargo test -p codegen-tests --test xtensa` (LLVM 22's esp32 CPU under
#   qemu-system-xtensa, CCOUNT; see docs/xtensa.md), every recorded sample, once on the
#   fixtures generated with `--target-cpu esp32s3` (XTENSA_TARGET_CPU=... for another) and
#   once on the esp32c3 modules above; PERF_XTENSA=0 skips it.
set -euo pipefail

WRITE_DOCS=0
case "${1:-}" in
  --write-docs) WRITE_DOCS=1 ;;
  "") ;;
  *) echo "usage: codegen-tests/perf.sh [--write-docs]" >&2; exit 2 ;;
esac

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOC=$ROOT/docs/performance.md
TARGET=riscv32imc-unknown-none-elf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SIZE=$(command -v llvm-size || command -v rust-size || true)
[ -n "$SIZE" ] || { echo "need llvm-size (apt-get install llvm) or cargo-binutils' rust-size" >&2; exit 2; }

if [ "$WRITE_DOCS" = 1 ]; then
  # The docs show the default configuration, the one the test suite checks.
  for var in PERF_ONLY ONNX2ESP_CLI ONNX2ESP_GENERATE_ARGS PERF_TARGET_CPU XTENSA_TARGET_CPU MCU_RUNNER_SAMPLES; do
    if [ -n "${!var:-}" ]; then echo "--write-docs measures the defaults: unset $var" >&2; exit 2; fi
  done
  if [ "${PERF_QEMU:-1}" = 0 ] || [ "${PERF_XTENSA:-1}" = 0 ]; then
    echo "--write-docs needs the instruction counts: unset PERF_QEMU and PERF_XTENSA" >&2; exit 2
  fi
  command -v qemu-system-riscv32 >/dev/null || { echo "--write-docs needs qemu-system-riscv32" >&2; exit 2; }
fi

cd "$ROOT"
CLI=${ONNX2ESP_CLI:-}
if [ -z "$CLI" ]; then cargo build -q --bin onnx2esp; CLI=$ROOT/target/debug/onnx2esp; fi

# The fixtures the MCU runners run: every codegen-tests/models/*.onnx.
RECORDED=()
for model in codegen-tests/models/*.onnx; do RECORDED+=("$(basename "$model" .onnx)"); done
# name, model, extra generate arguments (paths relative to the temporary directory, where
# models/ and templates/ are copies)
FIXTURES=()
for name in "${RECORDED[@]}"; do FIXTURES+=("$name models/$name.onnx"); done
FIXTURES+=("digits_swish models/digits_swish.onnx --templates templates")

mkdir -p "$WORK/models" "$WORK/gen" "$WORK/obj"
cp codegen-tests/models/*.onnx examples/custom-layer/models/digits_swish.onnx "$WORK/models/"
cp -r examples/custom-layer/templates "$WORK/templates"
read -r -a GENERATE_ARGS <<<"${ONNX2ESP_GENERATE_ARGS:-}"

ms() { echo "scale=1; $1 / 1000000" | bc; }
# 60361810 -> 60,361,810
commas() { sed -E ':a;s/^([0-9]+)([0-9]{3})/\1,\2/;ta' <<<"$1"; }
# instructions per MAC, two decimals
per_mac() { awk -v n="$1" -v m="$2" 'BEGIN { printf "%.2f", n / m }'; }
# `opt-level s / 3` cell of two figures
pair() { echo "$(commas "$1") / $(commas "$2")"; }

declare -A MACS WEIGHTS ARENA BOUND CODEGEN RS BIN RUSTC TEXT RODATA BSS TEXT_PER_WEIGHT
declare -A RUN3 PREDICT3 RUNS XRUN XPREDICT XRUN_C3

generate() { # name model dir target-cpu extra...
  local name=$1 model=$2 dir=$3 cpu=$4; shift 4
  (cd "$WORK" && "$CLI" generate "$model" -o "$dir/$name.rs" --target-cpu "$cpu" "$@" \
    ${GENERATE_ARGS[@]+"${GENERATE_ARGS[@]}"} >/dev/null 2>&1)
}

for f in "${FIXTURES[@]}"; do
  set -- $f
  name=$1 model=$2; shift 2
  if [ -n "${PERF_ONLY:-}" ] && [ "$name" != "$PERF_ONLY" ]; then continue; fi
  rm -f "$WORK/gen/$name.weights.bin"
  best=
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    generate "$name" "$model" gen "${PERF_TARGET_CPU:-esp32c3}" "$@"
    t=$(( $(date +%s%N) - t0 ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  CODEGEN[$name]=$(ms "$best" | awk '{ printf "%d", $1 + 0.5 }')
  header=$(grep -m1 '^// Arena:' "$WORK/gen/$name.rs")
  MACS[$name]=$(sed -E 's/.*MACs: ([0-9]+).*/\1/' <<<"$header")
  WEIGHTS[$name]=$(sed -E 's/.*Weights: ([0-9]+) bytes.*/\1/' <<<"$header")
  ARENA[$name]=$(sed -E 's/.*Arena: ([0-9]+) bytes.*/\1/' <<<"$header")
  BOUND[$name]=$(sed -E 's/.*tensors: ([0-9]+) bytes.*/\1/' <<<"$header")
  cat >"$WORK/obj/$name.rs" <<EOF
#![no_std]
pub mod m { include!("$WORK/gen/$name.rs"); }
#[no_mangle]
pub static mut MODEL: m::Model = m::Model::new();
EOF
  RS[$name]=$(commas "$(wc -c <"$WORK/gen/$name.rs")")
  BIN[$name]=—
  [ -f "$WORK/gen/$name.weights.bin" ] && BIN[$name]=$(commas "$(wc -c <"$WORK/gen/$name.weights.bin")")
  declare -A rustc_ms=() text=() rodata=() bss=()
  for opt in s 3; do
    best=
    for _ in 1 2 3; do
      t0=$(date +%s%N)
      rustc --edition 2021 --crate-type lib --emit obj --target $TARGET \
        -C opt-level=$opt -C codegen-units=1 -C panic=abort -C debuginfo=0 \
        -o "$WORK/obj/$name.$opt.o" "$WORK/obj/$name.rs" 2>/dev/null
      t=$(( $(date +%s%N) - t0 ))
      if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
    done
    rustc_ms[$opt]=$(ms "$best" | awk '{ printf "%d", $1 + 0.5 }')
    read -r text[$opt] rodata[$opt] bss[$opt] < <("$SIZE" -A "$WORK/obj/$name.$opt.o" | awk '
      $1 ~ /^\.text/ { t += $2 }
      $1 ~ /^\.s?rodata/ { r += $2 }
      $1 ~ /^\.s?bss/ { b += $2 }
      END { printf "%d %d %d\n", t, r, b }')
  done
  RUSTC[$name]=$(pair "${rustc_ms[s]}" "${rustc_ms[3]}")
  TEXT[$name]=$(pair "${text[s]}" "${text[3]}")
  RODATA[$name]=$(pair "${rodata[s]}" "${rodata[3]}")
  BSS[$name]=$(commas "${bss[3]}")
  TEXT_PER_WEIGHT[$name]=$(awk -v t="${text[3]}" -v w="${WEIGHTS[$name]}" 'BEGIN { printf "%.3f", t / w }')
done

# Reads a runner's `instructions NAME: run R per inference (...), predict P (...)` lines
# from stdin into the named arrays (run, predict).
read_counts() {
  local -n run_counts=$1 predict_counts=$2
  local name run predict
  while read -r name run predict; do
    run_counts[$name]=$run
    predict_counts[$name]=$predict
  done < <(sed -nE 's/^instructions ([^:]+): run ([0-9]+) per inference.*, predict ([0-9]+) .*/\1 \2 \3/p')
}

QEMU_RAN=0
XTENSA_RAN=0
# Model::self_test's two modules and the streaming modules (streaming/), from codegen-tests'
# build (which makes them from the recordings), into each directory the runners read: the
# runners then hold exactly the code of the test suite's runs, whose counts must equal the
# docs. (Other modules in a runner change LLVM's inlining of the code that modules share, and
# with it `predict`'s count.)
suite_modules() { # profile subdirectory of codegen-tests' OUT_DIR ("" or esp32c3), destination
  local out
  out=$(cargo build -q -p codegen-tests --message-format=json |
    sed -nE 's/.*"reason":"build-script-executed".*"package_id":"[^"]*codegen-tests[^"]*".*"out_dir":"([^"]*)".*/\1/p' | tail -1)
  [ -n "$out" ] || { echo "cannot find codegen-tests' OUT_DIR" >&2; exit 1; }
  cp "$out/$1"/digits_qat_self_test*.rs "$2/"
  mkdir -p "$2/streaming"
  cp "$out/$1"/streaming/kws_gru_pt_{step,whole}.* "$2/streaming/"
}
# The runners need every fixture's module, so PERF_ONLY skips them too.
if [ "${PERF_QEMU:-1}" != 0 ] && [ -z "${PERF_ONLY:-}" ]; then
  suite_modules esp32c3 "$WORK/gen"
  if command -v qemu-system-riscv32 >/dev/null; then
    for opt in 3 s; do
      (cd codegen-tests/mcu-runner &&
        ONNX2ESP_GENERATED_DIR="$WORK/gen" CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt \
          cargo build -q --release --target $TARGET --target-dir "$WORK/runner-$opt")
      qemu-system-riscv32 -machine virt -bios none -nographic -monitor none -serial none \
        -icount shift=0 -semihosting-config enable=on,target=native \
        -kernel "$WORK/runner-$opt/$TARGET/release/mcu-runner" >"$WORK/riscv-$opt.log" 2>&1 ||
        { cat "$WORK/riscv-$opt.log"; echo "mcu-runner failed at opt-level $opt" >&2; exit 1; }
      declare -A unused=()
      if [ $opt = 3 ]; then read_counts RUN3 PREDICT3 <"$WORK/riscv-$opt.log"; else read_counts RUNS unused <"$WORK/riscv-$opt.log"; fi
    done
    QEMU_RAN=1
  else
    echo "qemu-system-riscv32 missing: no instruction counts (apt-get install qemu-system-misc)"
  fi
  if [ "${PERF_XTENSA:-1}" != 0 ]; then
    mkdir -p "$WORK/gen-xtensa"
    for f in "${FIXTURES[@]}"; do
      set -- $f
      name=$1 model=$2; shift 2
      generate "$name" "$model" gen-xtensa "${XTENSA_TARGET_CPU:-esp32s3}" "$@"
    done
    suite_modules "" "$WORK/gen-xtensa"
    # xtensa <generated dir> <run array> <predict array>
    xtensa() {
      XTENSA_RUNNER_GENERATED_DIR="$1" cargo test -q -p codegen-tests --test xtensa -- --nocapture \
        >"$WORK/xtensa.log" 2>&1 ||
        { cat "$WORK/xtensa.log"; echo "the Xtensa runner failed: run cargo test -p codegen-tests --test xtensa" >&2; exit 1; }
      read_counts "$2" "$3" <"$WORK/xtensa.log"
    }
    declare -A unused=()
    xtensa "$WORK/gen-xtensa" XRUN XPREDICT
    cp "$WORK/xtensa.log" "$WORK/xtensa-esp32s3.log"
    xtensa "$WORK/gen" XRUN_C3 unused
    XTENSA_RAN=1
  fi
fi

# A count, or — when not measured.
count() { if [ -n "${1:-}" ]; then commas "$1"; else echo —; fi; }
ratio() { if [ -n "${1:-}" ]; then per_mac "$1" "$2"; else echo —; fi; }

riscv_table() {
  echo "| fixture | MACs | weights B | arena B | arena lower bound B | codegen ms | \`.rs\` B | \`.weights.bin\` B | rustc ms (s / 3) | .text s / 3 | .rodata s / 3 | .bss | .text 3 / weights | instr. \`run\` opt 3 | per MAC | instr. \`predict\` opt 3 | instr. \`run\` opt s | per MAC |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  for f in "${FIXTURES[@]}"; do
    set -- $f
    local n=$1 m
    [ -n "${MACS[$n]:-}" ] || continue
    m=${MACS[$n]}
    echo "| \`$n\` | $(commas "$m") | $(commas "${WEIGHTS[$n]}") | $(commas "${ARENA[$n]}") | $(commas "${BOUND[$n]}") | ${CODEGEN[$n]} | ${RS[$n]} | ${BIN[$n]} | ${RUSTC[$n]} | ${TEXT[$n]} | ${RODATA[$n]} | ${BSS[$n]} | ${TEXT_PER_WEIGHT[$n]} | $(count "${RUN3[$n]:-}") | $(ratio "${RUN3[$n]:-}" "$m") | $(count "${PREDICT3[$n]:-}") | $(count "${RUNS[$n]:-}") | $(ratio "${RUNS[$n]:-}" "$m") |"
  done
}

isa_table() {
  echo "| fixture | MACs | Xtensa, esp32s3 | per MAC | Xtensa \`predict\` | Xtensa, esp32c3 | per MAC | riscv32imc, esp32c3 | per MAC |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for n in "${RECORDED[@]}"; do
    [ -n "${MACS[$n]:-}" ] || continue
    local m=${MACS[$n]}
    echo "| \`$n\` | $(commas "$m") | $(count "${XRUN[$n]:-}") | $(ratio "${XRUN[$n]:-}" "$m") | $(count "${XPREDICT[$n]:-}") | $(count "${XRUN_C3[$n]:-}") | $(ratio "${XRUN_C3[$n]:-}" "$m") | $(count "${RUN3[$n]:-}") | $(ratio "${RUN3[$n]:-}" "$m") |"
  done
}

# The keyword spotter fed frame by frame (the runners' streaming check), for docs/recurrent.md.
streaming_table() {
  local line riscv xtensa
  line='s/^streaming kws_gru_pt instructions: ([0-9]+) per frame, ([0-9]+) per whole sequence/\1 \2/p'
  read -r -a riscv < <(sed -nE "$line" "$WORK/riscv-3.log")
  read -r -a xtensa < <(sed -nE "$line" "$WORK/xtensa-esp32s3.log")
  echo "| instructions | riscv32imc (\`esp32c3\` profile) | Xtensa (\`esp32s3\` profile, LLVM 22 proxy) |"
  echo "|---|---|---|"
  echo "| per frame, one frame per run | $(count "${riscv[0]:-}") | $(count "${xtensa[0]:-}") |"
  echo "| per 49-frame run | $(count "${riscv[1]:-}") | $(count "${xtensa[1]:-}") |"
}

# The small-map kernel benchmarks against the interior kernel of the same channels, for
# docs/performance.md: instructions per MAC (every tap, as the header counts MACs), per
# in-bounds MAC (the taps that read the input, of 144 per output), and their ratios.
smallmap_table() {
  echo "| fixture | map | channels | riscv32imc per MAC | in-bounds | × interior | Xtensa per MAC | in-bounds | × interior |"
  echo "|---|---|---|---|---|---|---|---|---|"
  local row n map channels inside interior m r ri rx rix x xi xx xix
  for row in "smallmap_conv3x3_s2_8x8|8×8 → 4×4, stride 2|32 → 32|121|smallmap_interior_32" \
    "smallmap_conv3x3_4x4|4×4|32 → 32|100|smallmap_interior_32" \
    "smallmap_conv3x3_2x2|2×2 (row kernel)|64 → 64|64|smallmap_interior_64" \
    "smallmap_interior_32|12×12 → 10×10 (interior)|32 → 32|144|smallmap_interior_32" \
    "smallmap_interior_64|8×8 → 6×6 (interior)|64 → 64|144|smallmap_interior_64"; do
    IFS='|' read -r n map channels inside interior <<<"$row"
    [ -n "${MACS[$n]:-}" ] && [ -n "${RUN3[$n]:-}" ] && [ -n "${XRUN[$n]:-}" ] || continue
    m=${MACS[$n]}
    # per MAC, per in-bounds MAC, and both against the interior fixture's per MAC
    read -r r ri rx rix < <(awk -v n="${RUN3[$n]}" -v m="$m" -v i="$inside" -v j="${RUN3[$interior]}" -v mj="${MACS[$interior]}" \
      'BEGIN { a = n / m; b = a * 144 / i; c = j / mj; printf "%.2f %.2f %.2f %.2f\n", a, b, a / c, b / c }')
    read -r x xi xx xix < <(awk -v n="${XRUN[$n]}" -v m="$m" -v i="$inside" -v j="${XRUN[$interior]}" -v mj="${MACS[$interior]}" \
      'BEGIN { a = n / m; b = a * 144 / i; c = j / mj; printf "%.2f %.2f %.2f %.2f\n", a, b, a / c, b / c }')
    echo "| \`$n\` | $map | $channels | $r | $ri | $rx ($rix) | $x | $xi | $xx ($xix) |"
  done
}

# The MLPerf Tiny fixtures, for docs/benchmarks.md: instructions per inference on both ISAs and
# the S3's time at one instruction per cycle (a floor: see the doc).
mlperf_table() {
  echo "| fixture | architecture | MACs | Xtensa \`run\` (\`esp32s3\`) | per MAC | ms at 240 MHz, 1 instruction per cycle | riscv32imc \`run\` (\`esp32c3\`) | per MAC |"
  echo "|---|---|---|---|---|---|---|---|"
  local row n arch m
  for row in "ds_cnn_kws_esppq|DS-CNN, keyword spotting" "resnet8_esppq|ResNet-8, image classification" \
    "mobilenet_v1_vww_esppq|MobileNetV1 0.25, visual wake words" "fc_autoencoder_esppq|FC autoencoder, anomaly detection"; do
    n=${row%%|*} arch=${row#*|}
    [ -n "${MACS[$n]:-}" ] || continue
    m=${MACS[$n]}
    echo "| \`$n\` | $arch | $(commas "$m") | $(count "${XRUN[$n]:-}") | $(ratio "${XRUN[$n]:-}" "$m") | $(awk -v n="${XRUN[$n]:-0}" 'BEGIN { printf "%.1f", n / 240e3 }') | $(count "${RUN3[$n]:-}") | $(ratio "${RUN3[$n]:-}" "$m") |"
  done
}

# The published figures' cycles per MAC (docs/benchmarks.md gives their sources: MLPerf Tiny
# v0.5's reference submission on a Cortex-M4F at 120 MHz; esp-tflite-micro's person detection
# with ESP-NN), against our instructions per MAC on the ISA each compares with: the average
# cycles per instruction at which our code would take as many cycles.
cpi_table() {
  echo "| published figure | cycles per MAC | our fixture | Xtensa instructions per MAC | Xtensa: equal at CPI | riscv32imc instructions per MAC | riscv32imc: equal at CPI |"
  echo "|---|---|---|---|---|---|---|"
  local row label cycles n isa m x r
  for row in "DS-CNN, MLPerf reference (Cortex-M4)|8.22|ds_cnn_kws_esppq|both" \
    "ResNet-8, MLPerf reference|6.76|resnet8_esppq|both" \
    "MobileNetV1, MLPerf reference|9.62|mobilenet_v1_vww_esppq|both" \
    "autoencoder, MLPerf reference|4.57|fc_autoencoder_esppq|both" \
    "person detection, TFLM + ESP-NN on the S3 (54 ms)|1.81|mobilenet_v1_vww_esppq|xtensa" \
    "person detection, TFLM + ESP-NN on the S3 (47 ms)|1.58|mobilenet_v1_vww_esppq|xtensa" \
    "person detection, TFLM + ESP-NN on the C3|9.52|mobilenet_v1_vww_esppq|riscv"; do
    IFS='|' read -r label cycles n isa <<<"$row"
    [ -n "${MACS[$n]:-}" ] || continue
    m=${MACS[$n]} x=— r=—
    if [ "$isa" != riscv ] && [ -n "${XRUN[$n]:-}" ]; then
      x=$(awk -v c="$cycles" -v n="${XRUN[$n]}" -v m="$m" 'BEGIN { printf "%.2f", c / (n / m) }')
    fi
    if [ "$isa" != xtensa ] && [ -n "${RUN3[$n]:-}" ]; then
      r=$(awk -v c="$cycles" -v n="${RUN3[$n]}" -v m="$m" 'BEGIN { printf "%.2f", c / (n / m) }')
    fi
    echo "| $label | $cycles | \`$n\` | $(ratio "${XRUN[$n]:-}" "$m") | $x | $(ratio "${RUN3[$n]:-}" "$m") | $r |"
  done
}

echo "riscv32imc, --target-cpu ${PERF_TARGET_CPU:-esp32c3}:"
echo
riscv_table | tee "$WORK/riscv32imc.md"
if [ "$QEMU_RAN$XTENSA_RAN" != 00 ]; then
  echo
  echo "instructions per inference of run on both ISAs:"
  echo
  isa_table | tee "$WORK/isa.md"
  echo
  echo "the keyword spotter frame by frame:"
  echo
  streaming_table | tee "$WORK/streaming.md"
  echo
  echo "the small-map kernel against the interior kernel:"
  echo
  smallmap_table | tee "$WORK/smallmap.md"
  echo
  echo "the MLPerf Tiny architectures, and beside the published figures:"
  echo
  mlperf_table | tee "$WORK/mlperf.md"
  echo
  cpi_table | tee "$WORK/cpi.md"
fi

# Replaces the lines between `<!-- perf:begin ID -->` and `<!-- perf:end -->` in a doc.
splice() { # id table-file [doc, default $DOC]
  local doc=${3:-$DOC}
  grep -qx "<!-- perf:begin $1 -->" "$doc" || { echo "$doc has no <!-- perf:begin $1 --> marker" >&2; exit 1; }
  awk -v begin="<!-- perf:begin $1 -->" -v table="$2" '
    $0 == begin { print; while ((getline line < table) > 0) print line; skipping = 1; next }
    skipping && $0 == "<!-- perf:end -->" { skipping = 0 }
    !skipping { print }' "$doc" >"$WORK/doc.md"
  cat "$WORK/doc.md" >"$doc"
}
if [ "$WRITE_DOCS" = 1 ]; then
  [ "$QEMU_RAN$XTENSA_RAN" = 11 ] || { echo "--write-docs: the instruction counts are missing" >&2; exit 1; }
  splice riscv32imc "$WORK/riscv32imc.md"
  splice isa "$WORK/isa.md"
  splice streaming "$WORK/streaming.md" "$ROOT/docs/recurrent.md"
  splice smallmap "$WORK/smallmap.md"
  splice mlperf "$WORK/mlperf.md" "$ROOT/docs/benchmarks.md"
  splice mlperf-cpi "$WORK/cpi.md" "$ROOT/docs/benchmarks.md"
  echo
  echo "wrote the tables into docs/performance.md, docs/recurrent.md and docs/benchmarks.md"
fi
