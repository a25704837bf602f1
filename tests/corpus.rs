//! The malformed-model corpus (`tests/corpus/make_corpus.py`): every class of broken input
//! gets an error that says what is wrong and where, never a panic.

use onnx2esp::{generate_with, Options};

/// Each file and the fragments its error message must contain.
const CASES: &[(&str, &[&str])] = &[
    ("empty", &["empty.onnx", "the file is empty"]),
    (
        "truncated",
        &["truncated.onnx", "not a valid ONNX protobuf"],
    ),
    (
        "not_protobuf",
        &["not_protobuf.onnx", "not a valid ONNX protobuf"],
    ),
    ("missing_graph", &["missing_graph.onnx", "has no graph"]),
    (
        "dangling_input",
        &["node 'relu'", "'nobody_makes_this'", "produced by no node"],
    ),
    (
        "cycle",
        &["node 'relu'", "'rq'", "cyclic or not in topological order"],
    ),
    (
        "duplicate_output",
        &["node 'quant_out'", "output 'r' is already produced"],
    ),
    (
        "dynamic_dims",
        &[
            "tensor 'x'",
            "axis 0",
            "dynamic ('batch')",
            "--input-shape x=",
        ],
    ),
    (
        "zero_dims",
        &["tensor 'x'", "axis 1", "size 0", "--input-shape"],
    ),
    (
        "unsupported_dtype",
        &["tensor 'x'", "Complex64", "not supported"],
    ),
    (
        "initializer_size_mismatch",
        &["tensor 's'", "needs 2 values", "holds 1"],
    ),
    (
        "dims_overflow",
        &["tensor 'x'", "more elements than onnx2esp accepts"],
    ),
    (
        "attribute_wrong_type",
        &["node 'pool' (MaxPool)", "'kernel_shape'", "list of ints"],
    ),
    (
        "axis_out_of_range",
        &["node 'flatten' (Flatten)", "axis 7", "out of range"],
    ),
    (
        "unsupported_op",
        &["node 'hardmax' (Hardmax)", "Hardmax.rs.tera"],
    ),
    ("unsupported_opset", &["opset 9 is not supported"]),
    // Hostile models: each once panicked, wrapped around, or took gigabytes.
    (
        "hostile_quantize_empty_scale",
        &["node 'quant_weight' (QuantizeLinear)", "scale is empty"],
    ),
    (
        "hostile_split_wrapping_sum",
        &["node 'split' (Split)", "split sizes"],
    ),
    (
        "hostile_depth_to_space_2_32",
        &["node 'd2s' (DepthToSpace)", "blocksize 4294967296"],
    ),
    (
        "hostile_depth_to_space_i64_max",
        &["node 'd2s' (DepthToSpace)", "blocksize 9223372036854775807"],
    ),
    ("hostile_pad_100000", &["node 'pad' (Pad)", "too large"]),
    ("hostile_pad_2_62", &["node 'pad' (Pad)", "too large"]),
    ("hostile_pad_i64_max", &["node 'pad' (Pad)", "too large"]),
    (
        "hostile_resize_scale_1e6",
        &["node 'resize' (Resize)", "too large"],
    ),
    (
        "hostile_resize_sizes_20000",
        &["node 'resize' (Resize)", "too large"],
    ),
    (
        "hostile_maxpool_kernel_65536",
        &["node 'pool' (MaxPool)", "taps"],
    ),
    (
        "hostile_maxpool_pads_65536",
        &["node 'pool' (MaxPool)", "too large"],
    ),
    (
        "hostile_conv_pads_65536",
        &["node 'conv' (Conv)", "too large"],
    ),
    (
        "hostile_conv_1000x1000",
        &["tensor 'x'", "over the RAM budget"],
    ),
    (
        "hostile_conv_wide_131072",
        &["tensor 'x'", "over the RAM budget"],
    ),
    (
        "hostile_transpose_2_28",
        &["tensor 'x'", "more elements than"],
    ),
    (
        "hostile_conv_transpose_stride_2_62",
        &["node 'deconv' (ConvTranspose)", "too large"],
    ),
    (
        "hostile_terminal_escapes",
        &["Hardmax", "no built-in kernel"],
    ),
    // The CLI prints the name escaped; tests/corpus_limits.rs checks its output.
    (
        "hostile_terminal_escapes_in_errors",
        &["(Flatten)", "axis 7", "out of range"],
    ),
    (
        "hostile_duplicate_initializer",
        &["tensor 's'", "given more than once"],
    ),
    (
        "hostile_raw_data_trailing_bytes",
        &["tensor 's'", "raw_data", "not a whole number"],
    ),
    ("hostile_nan_bias", &["node 'conv' (Conv)", "NaN"]),
    (
        "hostile_nan_gather_index",
        &["node 'gather' (Gather)", "NaN"],
    ),
    (
        "hostile_relu_five_inputs",
        &["node 'relu' (Relu)", "5 inputs"],
    ),
    (
        "hostile_zero_point_length",
        &[
            "node 'quant_in' (QuantizeLinear)",
            "zero point has 2 values",
        ],
    ),
    (
        "hostile_zero_point_type",
        &["node 'dequant_in' (DequantizeLinear)", "zero point is U8"],
    ),
    (
        "hostile_empty_activation_scale",
        &["node 'quant_out' (QuantizeLinear)", "scale is empty"],
    ),
];

/// Hostile files that are valid models: they generate, and `tests/corpus_limits.rs` checks that
/// they stay within the limits, `inspect` included.
const VALID: &[&str] = &[
    "hostile_long_names",
    "hostile_rank_5000",
    "hostile_terminal_escapes_in_tables",
];

fn generate(name: &str, options: &Options) -> Result<String, onnx2esp::Error> {
    let path = format!("{}/tests/corpus/{name}.onnx", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    generate_with(&bytes, &format!("{name}.onnx"), options)
}

#[test]
fn every_corpus_file_gets_a_clear_error() {
    let mut wrong = Vec::new();
    for (name, fragments) in CASES {
        let message = match generate(name, &Options::default()) {
            Ok(_) => {
                wrong.push(format!("{name}.onnx generated code; it must be rejected"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        for fragment in *fragments {
            if !message.contains(fragment) {
                let shown: String = message.chars().take(300).collect();
                wrong.push(format!(
                    "{name}.onnx: the error should mention {fragment:?}:\n{shown}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_valid_hostile_models_generate() {
    for name in VALID {
        if let Err(e) = generate(name, &Options::default()) {
            panic!("{name}.onnx: {e}");
        }
    }
}

#[test]
fn the_corpus_has_a_case_for_every_file() {
    let dir = format!("{}/tests/corpus", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|f| f.strip_suffix(".onnx").map(str::to_string))
        .collect();
    files.sort();
    let mut cases: Vec<String> = CASES
        .iter()
        .map(|(n, _)| n)
        .chain(VALID)
        .map(|n| n.to_string())
        .collect();
    cases.sort();
    assert_eq!(files, cases);
}

#[test]
fn input_shape_makes_a_dynamic_model_static_and_must_name_an_input() {
    let mut options = Options::default();
    options.input_shapes.insert("x".into(), vec![1, 4]);
    let code = generate("dynamic_dims", &options).expect("a static shape was given");
    assert!(
        code.contains("pub const INPUT_SHAPE: [usize; 2] = [1, 4];"),
        "{code}"
    );

    let mut wrong = Options::default();
    wrong.input_shapes.insert("nope".into(), vec![1, 4]);
    let message = generate("dynamic_dims", &wrong).unwrap_err().to_string();
    assert!(
        message.contains("'nope', which is not a graph input"),
        "{message}"
    );

    let mut rank = Options::default();
    rank.input_shapes.insert("x".into(), vec![4]);
    let message = generate("dynamic_dims", &rank).unwrap_err().to_string();
    assert!(
        message.contains("gives 1 dimensions, the model has 2"),
        "{message}"
    );
}
