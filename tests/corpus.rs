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
];

fn generate(name: &str, options: &Options) -> Result<String, onnx2esp::Error> {
    let path = format!("{}/tests/corpus/{name}.onnx", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    generate_with(&bytes, &format!("{name}.onnx"), options)
}

#[test]
fn every_corpus_file_gets_a_clear_error() {
    for (name, fragments) in CASES {
        let message = match generate(name, &Options::default()) {
            Ok(_) => panic!("{name}.onnx generated code; it must be rejected"),
            Err(e) => e.to_string(),
        };
        for fragment in *fragments {
            assert!(
                message.contains(fragment),
                "{name}.onnx: the error should mention {fragment:?}:\n{message}"
            );
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
    let mut cases: Vec<String> = CASES.iter().map(|(n, _)| n.to_string()).collect();
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
