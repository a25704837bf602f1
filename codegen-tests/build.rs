//! Compiles every fixture model with `onnx2esp::Builder`, so that the build.rs path users take
//! is the one the tests exercise:
//! - every `models/*.onnx`, `models/ops/*.onnx` and `models/recurrent/*.onnx` with the built-in
//!   kernels (the ops' and recurrent ones' with every static in a weights file beside the module);
//! - every `models/ort/*.onnx` (ONNX Runtime's quantizer) as [`modules_for`] says: under
//!   `--scales snap`, or not yet, with the reason;
//! - the custom-layer example's models with its templates;
//! - the default digits model once more with a user template that overrides Gemm;
//! - every `models/*.onnx` once more with the ESP32-C3's kernel profile, into
//!   `$OUT_DIR/esp32c3/` (for the riscv32imc runner);
//! - the ESP-PPQ digits model once more with `--rounding half-up`, once more with its
//!   arena in a link section, and once more with every static in a weights file.
//!
//! The single-op fixtures need no hand-written Rust, and no test keeps a hand list of modules:
//! this script also writes
//! - `$OUT_DIR/ops_fixtures.rs` and `recurrent_fixtures.rs`, included by `src/lib.rs`: one
//!   `pub mod` per fixture of `models/ops` and `models/recurrent`;
//! - `$OUT_DIR/module_table.rs` (`tests/common/modules.rs` includes it): every module generated
//!   here, op fixtures and whole models, with its ports and a `run` and `predict` taking
//!   slices, so that a test can drive any module;
//! - `$OUT_DIR/recorded_models.rs`: `for_each_recorded_model!`, over the modules of
//!   `models/*.onnx` (the fixtures the MCU runner embeds).

use onnx2esp::ScalePolicy;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn onnx_files(dir: &Path) -> Vec<PathBuf> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{} is readable: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "onnx"))
        .collect();
    paths.sort();
    paths
}

fn generate(builder: onnx2esp::Builder, model: &Path) -> PathBuf {
    builder
        .generate()
        .unwrap_or_else(|e| panic!("onnx2esp failed on {}: {e}", model.display()))
}

/// One input or output of a generated module: the item prefix of its constants (`INPUT`,
/// `INPUT_X0`, `OUTPUT`, ...) and its element type.
struct Port {
    prefix: String,
    ty: String,
}

/// The ports of a generated module's `run`, inputs then outputs, read from its signature
/// (`input: &[i8; INPUT_LEN]`, `output: &mut [i16; OUTPUT_LEN]`).
fn ports(code: &str) -> (Vec<Port>, Vec<Port>) {
    let start = code.find("pub fn run(").expect("a run function") + "pub fn run(".len();
    let signature = &code[start..start + code[start..].find('{').expect("run's body")];
    let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
    for argument in signature.split("],") {
        let Some((_, array)) = argument.split_once(": &") else {
            continue;
        };
        let output = array.starts_with("mut ");
        let (ty, len) = array
            .trim_start_matches("mut ")
            .trim_start_matches('[')
            .split_once("; ")
            .expect("an array argument");
        let prefix = len
            .trim()
            .trim_end_matches(')')
            .trim_end_matches(']')
            .strip_suffix("_LEN")
            .expect("a _LEN item")
            .to_string();
        let port = Port {
            prefix,
            ty: ty.to_string(),
        };
        if output {
            outputs.push(port);
        } else {
            inputs.push(port);
        }
    }
    (inputs, outputs)
}

/// The multiply-accumulates per inference, from the header's `MACs: N.`.
fn macs(code: &str) -> u64 {
    let start = code.find("MACs: ").expect("a MACs figure") + "MACs: ".len();
    let digits: String = code[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().expect("MACs is a number")
}

/// One row of `MODULES` for the module at `path` (e.g. `ops::neg`) whose code is `code`.
fn module_row(name: &str, path: &str, code: &str, recording: &str) -> String {
    let (inputs, outputs) = ports(code);
    let port_list = |ports: &[Port]| -> String {
        ports
            .iter()
            .map(|p| {
                let exponent = if p.ty == "f32" {
                    "0".to_string()
                } else {
                    format!("{path}::{}_EXPONENT", p.prefix)
                };
                format!(
                    "Port {{ len: {path}::{0}_LEN, exponent: {exponent}, ty: \"{1}\" }}, ",
                    p.prefix, p.ty
                )
            })
            .collect()
    };
    // `run` and `predict` over slices: each input converted to the array type `element`
    // gives (the caller keeps integers within it), each output copied out as f64 (exact for
    // every element type).
    let call = |method: &str, element: &dyn Fn(&Port) -> String| {
        let mut body = String::new();
        for (k, p) in inputs.iter().enumerate() {
            write!(
                body,
                "let x{k}: [{}; {path}::{}_LEN] = core::array::from_fn(|i| inputs[{k}][i]{}); ",
                element(p),
                p.prefix,
                // predict's inputs are f32 already.
                if method == "run" {
                    format!(" as {}", element(p))
                } else {
                    String::new()
                }
            )
            .unwrap();
        }
        for (k, p) in outputs.iter().enumerate() {
            write!(
                body,
                "let mut y{k}: [{}; {path}::{1}_LEN] = [Default::default(); {path}::{1}_LEN]; ",
                element(p),
                p.prefix
            )
            .unwrap();
        }
        let args: Vec<String> = (0..inputs.len())
            .map(|k| format!("&x{k}"))
            .chain((0..outputs.len()).map(|k| format!("&mut y{k}")))
            .collect();
        write!(body, "{path}::Model::new().{method}({}); ", args.join(", ")).unwrap();
        for k in 0..outputs.len() {
            write!(
                body,
                "for (o, y) in outputs[{k}].iter_mut().zip(y{k}) {{ *o = y as f64; }} "
            )
            .unwrap();
        }
        body
    };
    let run = call("run", &|p| p.ty.clone());
    let predict = call("predict", &|_| "f32".into());
    format!(
        "    Module {{ name: \"{name}\", recording: \"{recording}\", macs: {}, inputs: &[{}], outputs: &[{}], \
         run: |inputs, outputs| {{ {run}}}, predict: |inputs, outputs| {{ {predict}}} }},\n",
        macs(code),
        port_list(&inputs),
        port_list(&outputs),
    )
}

/// The fixtures of `models/{dir}` (single ops, recurrent layers), generated with every static
/// in a weights file, as `$OUT_DIR/{dir}_fixtures.rs` (one module each) and their rows of the
/// module table.
fn op_fixtures(dir: &str, out_dir: &Path, table: &mut String) {
    let mut modules = format!("// @generated by build.rs: one module per models/{dir} fixture.\n");
    for path in onnx_files(&Path::new("models").join(dir)) {
        // Every static of these goes through the weights file (threshold 0), so that
        // op_exactness checks each decoder (i8, i32, u16 and u32 statics) against ONNX
        // Runtime; the whole-model fixtures keep the default threshold.
        let builder = onnx2esp::Builder::new(&path).weights_file_threshold(Some(0));
        let generated = generate(builder, &path);
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 fixture name");
        let code = std::fs::read_to_string(&generated).expect("read generated module");
        assert_eq!(
            ports(&code).1.len(),
            1,
            "{name}: op fixtures have one output"
        );
        writeln!(
            modules,
            "pub mod {name} {{ include!(concat!(env!(\"OUT_DIR\"), \"/{name}.rs\")); }}"
        )
        .unwrap();
        table.push_str(&module_row(
            name,
            &format!("{dir}::{name}"),
            &code,
            &format!("{dir}/{name}"),
        ));
    }
    std::fs::write(out_dir.join(format!("{dir}_fixtures.rs")), modules)
        .expect("write the fixtures' module list");
}

/// Recurrent models that take fewer time steps per `run` (`$OUT_DIR/streaming/`, see
/// tests/recurrent.rs): the same models as their whole-sequence modules, with the time axis of
/// the input set shorter (`--input-shape`). The keyword spotter whole and one frame per run
/// also go to `$OUT_DIR/esp32c3/streaming/` with that profile, for the riscv32imc runner (the
/// Xtensa runner reads `$OUT_DIR/streaming/`).
const STREAMING: &[(&str, &str, &str, [usize; 3])] = &[
    (
        "lstm_forward_step",
        "models/recurrent/lstm_forward.onnx",
        "x0",
        [1, 1, 5],
    ),
    (
        "gru_forward_step",
        "models/recurrent/gru_forward.onnx",
        "x0",
        [1, 1, 5],
    ),
    // The keyword spotter one frame at a time, 7 frames at a time (49 = 7 x 7), and whole.
    (
        "kws_gru_pt_step",
        "models/recurrent/kws_gru_pt.onnx",
        "mfcc",
        [1, 1, 10],
    ),
    (
        "kws_gru_pt_chunk",
        "models/recurrent/kws_gru_pt.onnx",
        "mfcc",
        [1, 7, 10],
    ),
    (
        "kws_gru_pt_whole",
        "models/recurrent/kws_gru_pt.onnx",
        "mfcc",
        [1, 49, 10],
    ),
];

fn streaming_modules(out_dir: &Path) {
    let dir = out_dir.join("streaming");
    let c3 = out_dir.join("esp32c3/streaming");
    for d in [&dir, &c3] {
        std::fs::create_dir_all(d).expect("create a streaming directory");
    }
    for (module, model, input, shape) in STREAMING {
        let model = Path::new(model);
        let builder = onnx2esp::Builder::new(model).input_shape(input, shape);
        if matches!(*module, "kws_gru_pt_step" | "kws_gru_pt_whole") {
            let c3_builder = builder
                .clone()
                .target_cpu(onnx2esp::TargetCpu::Esp32c3)
                .output(c3.join(format!("{module}.rs")));
            generate(c3_builder, model);
        }
        generate(builder.output(dir.join(format!("{module}.rs"))), model);
    }
}

/// The per-model options hook: the modules generated from `model` (a path under `models/`),
/// each with its name and scale policy, or why none is generated yet. The default is one
/// module named after the model, under `--scales exact`.
fn modules_for(model: &Path) -> Result<Vec<(String, ScalePolicy)>, &'static str> {
    use onnx2esp::SnapRule::{Ceil, Nearest};
    let stem = model
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("UTF-8 fixture name");
    let snapped = |rules: &[(&str, onnx2esp::SnapRule)]| {
        rules
            .iter()
            .map(|(suffix, rule)| (format!("{stem}_{suffix}"), ScalePolicy::Snap(*rule)))
            .collect()
    };
    match stem {
        "digits_ort_qdq" => Ok(snapped(&[("snap", Nearest), ("ceil", Ceil)])),
        "digits_ort_uint8" | "digits_ort_int16" | "mlp_ort_flatten" => {
            Ok(snapped(&[("snap", Nearest)]))
        }
        "digits_ort_perchannel" => Ok(snapped(&[("snap", Nearest), ("ceil", Ceil)])),
        "digits_ort_qoperator" => Ok(snapped(&[("snap", Nearest)])),
        _ => Ok(vec![(stem.to_string(), ScalePolicy::Exact)]),
    }
}

/// Generates the modules [`modules_for`] gives every model of `dir` into `out_dir`; returns
/// each module's name with its model's stem.
fn generate_models(dir: &Path, out_dir: &Path) -> Vec<(String, String)> {
    generate_models_with(dir, out_dir, |builder| builder)
}

/// [`generate_models`] with more options for every module.
fn generate_models_with(
    dir: &Path,
    out_dir: &Path,
    options: impl Fn(onnx2esp::Builder) -> onnx2esp::Builder,
) -> Vec<(String, String)> {
    let mut generated = Vec::new();
    for model in onnx_files(dir) {
        let stem = model
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 fixture name");
        match modules_for(&model) {
            Ok(modules) => {
                for (module, policy) in modules {
                    let builder = options(onnx2esp::Builder::new(&model))
                        .scales(policy)
                        .output(out_dir.join(format!("{module}.rs")));
                    generate(builder, &model);
                    generated.push((module, stem.to_string()));
                }
            }
            Err(why) => println!("cargo:warning={}: not generated: {why}", model.display()),
        }
    }
    generated
}

/// Samples embedded for `Model::self_test`, and the (sample, element) made wrong in the
/// corrupted copy (tests/self_test.rs).
const SELF_TEST_SAMPLES: usize = 8;
const CORRUPTED: (usize, usize) = (5, 7);

/// Writes float32 rows as a `.npy` of shape `[rows, columns]`.
fn write_npy(path: &Path, rows: &[Vec<f32>]) {
    let shape = [rows.len(), rows.first().map_or(0, Vec::len)];
    let values: Vec<f32> = rows.iter().flatten().copied().collect();
    onnx2esp::npy::write(path, &shape, &values).expect("write .npy");
}

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    // Whole-model modules, each with the recording (under models/) its model was run on.
    let mut whole: Vec<(String, String)> = Vec::new();
    let recorded = generate_models(Path::new("models"), &out_dir);
    whole.extend(recorded.iter().cloned());
    // The same modules with the ESP32-C3's kernel profile (other register tiles, the same
    // results), in their own directory: tests/qemu.rs runs them on riscv32imc, the C3's ISA.
    let esp32c3 = out_dir.join("esp32c3");
    std::fs::create_dir_all(&esp32c3).expect("create $OUT_DIR/esp32c3");
    generate_models_with(Path::new("models"), &esp32c3, |builder| {
        builder.target_cpu(onnx2esp::TargetCpu::Esp32c3)
    });
    whole.extend(
        generate_models(Path::new("models/ort"), &out_dir)
            .into_iter()
            .map(|(module, stem)| (module, format!("ort/{stem}"))),
    );
    let mut table = String::from(
        "// @generated by build.rs: every module it generated, for the tests.\n\
         pub const MODULES: &[Module] = &[\n",
    );
    op_fixtures("ops", &out_dir, &mut table);
    op_fixtures("recurrent", &out_dir, &mut table);
    streaming_modules(&out_dir);

    let custom = Path::new("../examples/custom-layer");
    for model in onnx_files(&custom.join("models")) {
        let generated = generate(
            onnx2esp::Builder::new(&model).templates(custom.join("templates")),
            &model,
        );
        let stem = model
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 name");
        let module = generated
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 name");
        whole.push((
            module.to_string(),
            format!("../../examples/custom-layer/models/{stem}"),
        ));
    }

    // ESP-PPQ's model once more with ESP-DL's S3 rounding, for the test against ESP-PPQ's own
    // (half-up) simulation.
    let esppq = Path::new("models/digits_esppq.onnx");
    generate(
        onnx2esp::Builder::new(esppq)
            .rounding(onnx2esp::Rounding::HalfUp)
            .output(out_dir.join("digits_esppq_half_up.rs")),
        esppq,
    );
    whole.push(("digits_esppq_half_up".into(), "digits_esppq".into()));

    // The arena-section option: tests/arena_section.rs places this model's static with the
    // generated macro.
    generate(
        onnx2esp::Builder::new(esppq)
            .arena_link_section(".ext_ram.bss")
            .output(out_dir.join("digits_esppq_arena_section.rs")),
        esppq,
    );
    whole.push(("digits_esppq_arena_section".into(), "digits_esppq".into()));

    // Every static in the weights file: never_panics checks it against the inline module.
    generate(
        onnx2esp::Builder::new(esppq)
            .weights_file_threshold(Some(0))
            .output(out_dir.join("digits_esppq_weights_file.rs")),
        esppq,
    );
    whole.push(("digits_esppq_weights_file".into(), "digits_esppq".into()));

    // Other unroll budgets (`--unroll`): other register tiles, the same results.
    let mobilenet = Path::new("models/mobilenet_v2_esppq.onnx");
    for unroll in [1, 7] {
        generate(
            onnx2esp::Builder::new(mobilenet)
                .unroll(unroll)
                .output(out_dir.join(format!("mobilenet_v2_esppq_unroll_{unroll}.rs"))),
            mobilenet,
        );
        whole.push((
            format!("mobilenet_v2_esppq_unroll_{unroll}"),
            "mobilenet_v2_esppq".into(),
        ));
    }

    // A user override of Gemm on a model with int32 biases: a user template's `requantize()`
    // rounds half to even, so float biases keep the int32 rounding there (docs/numerics.md)
    // and only an int32-bias model must match the built-in kernel bit for bit.
    generate(
        onnx2esp::Builder::new(esppq)
            .templates("templates-override")
            .output(out_dir.join("digits_esppq_gemm_override.rs")),
        esppq,
    );
    whole.push(("digits_esppq_gemm_override".into(), "digits_esppq".into()));

    // Model::self_test: digits_qat with its first recorded samples embedded, and again with
    // one expected element a step off (tests/self_test.rs checks that it is the one reported).
    let qat = Path::new("models/digits_qat.onnx");
    let recording: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string("models/digits_qat.expected.json").expect("read the recording"),
    )
    .expect("a JSON recording");
    let rows = |key: &str| -> Vec<Vec<f32>> {
        recording[key]
            .as_array()
            .expect("an array of samples")
            .iter()
            .map(|row| {
                let row = row.as_array().expect("a sample");
                row.iter()
                    .map(|v| v.as_f64().expect("a number") as f32)
                    .collect()
            })
            .collect()
    };
    let (inputs, mut outputs) = (rows("inputs"), rows("outputs"));
    write_npy(&out_dir.join("self_test_inputs.npy"), &inputs);
    write_npy(&out_dir.join("self_test_outputs.npy"), &outputs);
    // Each also into esp32c3/ with that profile, for the riscv32imc runner.
    let embedded = |module: &str, outputs: &str| {
        let builder = onnx2esp::Builder::new(qat).embed_tests(
            SELF_TEST_SAMPLES,
            out_dir.join("self_test_inputs.npy"),
            out_dir.join(outputs),
        );
        let c3 = builder
            .clone()
            .target_cpu(onnx2esp::TargetCpu::Esp32c3)
            .output(esp32c3.join(format!("{module}.rs")));
        generate(c3, qat);
        generate(builder.output(out_dir.join(format!("{module}.rs"))), qat)
    };
    let code = std::fs::read_to_string(embedded("digits_qat_self_test", "self_test_outputs.npy"))
        .expect("read the module");
    let exponent: i32 = code
        .lines()
        .find_map(|l| l.strip_prefix("pub const OUTPUT_EXPONENT: i32 = "))
        .and_then(|v| v.trim_end_matches(';').parse().ok())
        .expect("OUTPUT_EXPONENT");
    let (sample, element) = CORRUPTED;
    outputs[sample][element] += 2f32.powi(exponent);
    write_npy(&out_dir.join("self_test_corrupted.npy"), &outputs);
    embedded("digits_qat_self_test_corrupted", "self_test_corrupted.npy");
    whole.push(("digits_qat_self_test".into(), "digits_qat".into()));
    whole.push(("digits_qat_self_test_corrupted".into(), "digits_qat".into()));

    for (module, recording) in &whole {
        let code = std::fs::read_to_string(out_dir.join(format!("{module}.rs")))
            .expect("read generated module");
        table.push_str(&module_row(module, module, &code, recording));
    }
    table.push_str("];\n");
    std::fs::write(out_dir.join("module_table.rs"), table).expect("write module_table.rs");

    let mut macro_text = String::from(
        "// @generated by build.rs.\n\
         /// Calls `$m!(module)` for the module of every `models/*.onnx`.\n\
         macro_rules! for_each_recorded_model {\n    ($m:ident) => {\n",
    );
    for (module, _) in &recorded {
        writeln!(macro_text, "        $m!({module});").unwrap();
    }
    macro_text.push_str("    };\n}\n");
    std::fs::write(out_dir.join("recorded_models.rs"), macro_text)
        .expect("write recorded_models.rs");
}
