"""Host time per inference of ONNX Runtime on the whole-model fixtures, for the README's
ratios against the generated code (codegen-tests/benches/host.rs prints the same columns).

ONNX Runtime runs single-threaded (intra_op_num_threads=1, inter_op_num_threads=1,
sequential execution) with graph optimisations ON (ORT_ENABLE_ALL): this is a speed
comparison, so ORT may fuse the QDQ pairs into its integer kernels. (The recordings that the
exactness tests use are made with optimisations OFF; see examples/pytorch/record_outputs.py.)
The inputs are the recorded ones (at most MAX_SAMPLES per fixture); the figure is the median
over ROUNDS rounds of at least ROUND_SECONDS each, as in the Rust benchmark. MACs are read from
the module that onnx2esp generates (its header), so pass the CLI if it is not on PATH.

Run from the repository root:
    cargo build --release
    cargo bench -p codegen-tests | tee /tmp/host-bench.md     # optional: the generated code's times
    /work/venv/bin/python examples/bench/ort_bench.py [--cli target/release/onnx2esp] [--rust-table /tmp/host-bench.md]
With --rust-table the table also has the generated code's ns/inference (read from the Rust
benchmark's output) and the speed-up of the generated code over ONNX Runtime.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import time

import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = ["digits_qat", "digits_esppq", "residual_cnn_esppq", "kws1d_esppq", "mobilenet_v2_esppq"]
MAX_SAMPLES = 16
ROUNDS = 11
ROUND_SECONDS = 0.03


def session(path):
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def macs(cli, path):
    """The MAC count in the header of the module onnx2esp generates for the model."""
    code = subprocess.run([cli, "generate", path], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"MACs: (\d+)", code).group(1))


def time_per_inference(run, samples):
    """Median nanoseconds per inference, as codegen-tests/benches/host.rs measures."""
    started, passes = time.perf_counter(), 0
    while time.perf_counter() - started < ROUND_SECONDS or passes == 0:
        for i in range(samples):
            run(i)
        passes += 1
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter_ns()
        for _ in range(passes):
            for i in range(samples):
                run(i)
        rounds.append((time.perf_counter_ns() - started) / (passes * samples))
    return statistics.median(rounds)


def generated_times(path):
    """fixture -> generated ns/inference, from the markdown table codegen-tests/benches/host.rs prints."""
    times = {}
    with open(path) as f:
        for line in f:
            cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and cells[2].isdigit():
                times[cells[0]] = float(cells[2])
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", default=os.path.join(ROOT, "target", "release", "onnx2esp"))
    ap.add_argument("--rust-table", help="saved output of `cargo bench -p codegen-tests`")
    args = ap.parse_args()
    generated = generated_times(args.rust_table) if args.rust_table else {}
    print(f"onnxruntime {ort.__version__}, 1 thread, graph optimisations on; median of {ROUNDS} rounds\n")
    print("| fixture | MACs | generated ns/inference | ORT ns/inference | speed-up | MACs/ns (ORT) |")
    print("|---|---|---|---|---|---|")
    for name in FIXTURES:
        path = os.path.join(ROOT, "codegen-tests", "models", f"{name}.onnx")
        with open(os.path.join(ROOT, "codegen-tests", "models", f"{name}.expected.json")) as f:
            recording = json.load(f)
        sess = session(path)
        (inp,) = sess.get_inputs()
        shape = [d if isinstance(d, int) else 1 for d in inp.shape]
        inputs = [np.asarray(x, dtype=np.float32).reshape(shape) for x in recording["inputs"][:MAX_SAMPLES]]
        ns = time_per_inference(lambda i: sess.run(None, {inp.name: inputs[i]}), len(inputs))
        n = macs(args.cli, path)
        gen = generated.get(name)
        gen_ns, speed_up = (f"{gen:.0f}", f"{ns / gen:.1f}×") if gen else ("—", "—")
        print(f"| `{name}` | {n} | {gen_ns} | {ns:.0f} | {speed_up} | {n / ns:.2f} |")


if __name__ == "__main__":
    main()
