#!/usr/bin/env bash
# Codegen time, rustc compile time, riscv32imc code size and instructions per inference of
# every whole-model fixture, and the instructions per inference on Xtensa. Prints markdown
# tables; asserts nothing.
#
#   codegen-tests/perf.sh            # from the repository root
#
# Needs: the riscv32imc-unknown-none-elf target, llvm-size (or rust-size from cargo-binutils
# with `rustup component add llvm-tools`), and qemu-system-riscv32 for the instruction counts
# (skipped when missing). Works in a temporary directory; the repository is not written.
#
# - Codegen: the release CLI, `onnx2esp generate`, best of 5 runs (wall clock, includes
#   process start and reading the model), with the default weights-file threshold: the sizes
#   of the module (.rs) and of its weights file (.weights.bin, 0 when every weight is inline)
#   follow. The modules are generated with `--target-cpu esp32c3` (the riscv32imc profile;
#   PERF_TARGET_CPU=... for another). ONNX2ESP_GENERATE_ARGS adds arguments to every run,
#   e.g. `--inline-weights` to compare against modules with every weight inline.
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
#   opt-level 3 and s (its release profile: lto, codegen-units=1), mean over
#   MCU_RUNNER_SAMPLES (default 20) recorded samples per fixture.
# - Xtensa: the fixtures generated again with `--target-cpu esp32s3` (XTENSA_TARGET_CPU=...
#   for another), run by `cargo test -p codegen-tests --test xtensa` (LLVM 22's esp32 CPU
#   under qemu-system-xtensa, CCOUNT; see docs/xtensa.md) with every recorded sample;
#   PERF_XTENSA=0 skips it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=riscv32imc-unknown-none-elf
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
SIZE=$(command -v llvm-size || command -v rust-size || true)
[ -n "$SIZE" ] || { echo "need llvm-size (apt-get install llvm) or cargo-binutils' rust-size" >&2; exit 2; }

cd "$ROOT"
# ONNX2ESP_CLI=path/to/onnx2esp skips building the release CLI.
CLI=${ONNX2ESP_CLI:-}
if [ -z "$CLI" ]; then cargo build --release -q; CLI=$ROOT/target/release/onnx2esp; fi

# name, model, extra generate arguments
FIXTURES=(
  "digits_qat codegen-tests/models/digits_qat.onnx"
  "digits_esppq codegen-tests/models/digits_esppq.onnx"
  "digits_ptq codegen-tests/models/digits_ptq.onnx"
  "residual_cnn_esppq codegen-tests/models/residual_cnn_esppq.onnx"
  "kws1d_esppq codegen-tests/models/kws1d_esppq.onnx"
  "mobilenet_v2_esppq codegen-tests/models/mobilenet_v2_esppq.onnx"
  "digits_swish examples/custom-layer/models/digits_swish.onnx --templates examples/custom-layer/templates"
)

ms() { echo "scale=1; $1 / 1000000" | bc; }

mkdir -p "$WORK/gen" "$WORK/obj"
read -r -a GENERATE_ARGS <<<"${ONNX2ESP_GENERATE_ARGS:-}"

echo "| fixture | MACs | weights B | arena B (lower bound) | codegen ms | .rs B | .weights.bin B | rustc -O s ms | rustc -O 3 ms | .text s | .rodata s | .bss s | .text 3 | .rodata 3 | .bss 3 | .text 3 / weights |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for f in "${FIXTURES[@]}"; do
  set -- $f
  name=$1 model=$2; shift 2
  if [ -n "${PERF_ONLY:-}" ] && [ "$name" != "$PERF_ONLY" ]; then continue; fi
  rm -f "$WORK/gen/$name.weights.bin"
  best=
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    "$CLI" generate "$model" -o "$WORK/gen/$name.rs" --target-cpu "${PERF_TARGET_CPU:-esp32c3}" "$@" ${GENERATE_ARGS[@]+"${GENERATE_ARGS[@]}"} >/dev/null 2>&1
    t=$(( $(date +%s%N) - t0 ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  header=$(grep -m1 '^// Arena:' "$WORK/gen/$name.rs")
  macs=$(sed -E 's/.*MACs: ([0-9]+).*/\1/' <<<"$header")
  weights=$(sed -E 's/.*Weights: ([0-9]+) bytes.*/\1/' <<<"$header")
  arena=$(sed -E 's/.*Arena: ([0-9]+) bytes.*/\1/' <<<"$header")
  bound=$(sed -E 's/.*tensors: ([0-9]+) bytes.*/\1/' <<<"$header")
  cat >"$WORK/obj/$name.rs" <<EOF
#![no_std]
pub mod m { include!("$WORK/gen/$name.rs"); }
#[no_mangle]
pub static mut MODEL: m::Model = m::Model::new();
EOF
  module_bytes=$(wc -c <"$WORK/gen/$name.rs")
  file_bytes=0
  [ -f "$WORK/gen/$name.weights.bin" ] && file_bytes=$(wc -c <"$WORK/gen/$name.weights.bin")
  row="| \`$name\` | $macs | $weights | $arena ($bound) | $(ms "$best") | $module_bytes | $file_bytes"
  sizes=
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
    row="$row | $(ms "$best")"
    sizes="$sizes $("$SIZE" -A "$WORK/obj/$name.$opt.o" | awk '
      $1 ~ /^\.text/ { t += $2 }
      $1 ~ /^\.s?rodata/ { r += $2 }
      $1 ~ /^\.s?bss/ { b += $2 }
      END { printf "| %d | %d | %d", t, r, b }')"
  done
  text3=$("$SIZE" -A "$WORK/obj/$name.3.o" | awk '$1 ~ /^\.text/ { t += $2 } END { print t }')
  echo "$row$sizes | $(echo "scale=3; $text3 / $weights" | bc) |"
done

# The runners need every fixture's module, so PERF_ONLY skips them too.
if [ "${PERF_QEMU:-1}" = 0 ] || [ -n "${PERF_ONLY:-}" ]; then exit 0; fi
if ! command -v qemu-system-riscv32 >/dev/null; then
  echo "qemu-system-riscv32 missing: no instruction counts (apt-get install qemu-system-misc)"
  exit 0
fi
xtensa() {
  [ "${PERF_XTENSA:-1}" = 0 ] && return 0
  mkdir -p "$WORK/gen-xtensa"
  for f in "${FIXTURES[@]}"; do
    set -- $f
    name=$1 model=$2; shift 2
    "$CLI" generate "$model" -o "$WORK/gen-xtensa/$name.rs" --target-cpu "${XTENSA_TARGET_CPU:-esp32s3}" "$@" ${GENERATE_ARGS[@]+"${GENERATE_ARGS[@]}"} >/dev/null 2>&1
  done
  echo
  echo "instructions per inference on Xtensa (qemu-system-xtensa, CCOUNT), --target-cpu ${XTENSA_TARGET_CPU:-esp32s3}:"
  XTENSA_RUNNER_GENERATED_DIR="$WORK/gen-xtensa" cargo test -q -p codegen-tests --test xtensa -- --nocapture 2>&1 |
    grep -E '^(instructions|RESULT|test result)' || echo "the Xtensa runner failed: run cargo test -p codegen-tests --test xtensa"
}
echo
echo "instructions per inference on riscv32imc (qemu, minstret), mcu-runner with MCU_RUNNER_SAMPLES=${MCU_RUNNER_SAMPLES:=20}:"
for opt in 3 s; do
  (cd codegen-tests/mcu-runner &&
    ONNX2ESP_GENERATED_DIR="$WORK/gen" MCU_RUNNER_SAMPLES=$MCU_RUNNER_SAMPLES \
      CARGO_PROFILE_RELEASE_OPT_LEVEL=$opt \
      cargo build -q --release --target $TARGET --target-dir "$WORK/runner-$opt")
  echo "opt-level $opt:"
  qemu-system-riscv32 -machine virt -bios none -nographic -monitor none -serial none \
    -icount shift=0 -semihosting-config enable=on,target=native \
    -kernel "$WORK/runner-$opt/$TARGET/release/mcu-runner" 2>&1 | grep -E '^(instructions|RESULT)'
done
xtensa
