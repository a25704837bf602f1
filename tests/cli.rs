//! The command line: generation is deterministic, and `--check` reports stale files.

use std::process::Command;

const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/models/digits.onnx");

fn onnx2esp() -> Command {
    Command::new(env!("CARGO_BIN_EXE_onnx2esp"))
}

/// `onnx2esp generate MODEL EXTRA...` with the module on stdout: (status, stdout, stderr).
fn generate_to_stdout(extra: &[&str]) -> (std::process::ExitStatus, String, String) {
    let output = onnx2esp()
        .args(["generate", MODEL])
        .args(extra)
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A generated module without its header's "Regenerate" line, which names the options given:
/// for comparing the code that different spellings of the same options generate.
fn without_regenerate_line(module: &str) -> String {
    module
        .lines()
        .filter(|line| !line.starts_with("// Regenerate"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

#[test]
fn generating_twice_gives_identical_bytes() {
    // The same file name in two directories: the name is part of the header's command.
    let (a, b) = (temp("twice_a/model.rs"), temp("twice_b/model.rs"));
    for path in [&a, &b] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let status = onnx2esp()
            .args(["generate", MODEL, "-o"])
            .arg(path)
            .status()
            .unwrap();
        assert!(status.success());
    }
    let (a, b) = (std::fs::read(a).unwrap(), std::fs::read(b).unwrap());
    assert!(!a.is_empty());
    assert!(a == b, "two generations differ");
    // No absolute paths leak into the output.
    let text = String::from_utf8(a).unwrap();
    assert!(!text.contains(env!("CARGO_MANIFEST_DIR")));
}

#[test]
fn check_passes_on_a_fresh_file_and_fails_with_a_diff_on_a_stale_one() {
    let path = temp("checked.rs");
    let status = onnx2esp()
        .args(["generate", MODEL, "-o"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let fresh = onnx2esp()
        .args(["generate", MODEL, "--check", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(fresh.status.code(), Some(0));

    let stale = std::fs::read_to_string(&path)
        .unwrap()
        .replace("pub const ARENA_BYTES", "pub const ARENA_BYTES_OLD");
    std::fs::write(&path, &stale).unwrap();
    let checked = onnx2esp()
        .args(["generate", MODEL, "--check", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(checked.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&checked.stderr);
    assert!(diff.contains("-pub const ARENA_BYTES_OLD"), "{diff}");
    assert!(diff.contains("+pub const ARENA_BYTES"), "{diff}");
    // --check never writes.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), stale);
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let out = onnx2esp()
        .args(["generate", "no/such/model.onnx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no/such/model.onnx"), "{err}");
}

#[test]
fn a_failed_generation_leaves_the_previous_output_untouched() {
    let path = temp("kept.rs");
    std::fs::write(&path, "previous contents\n").unwrap();
    let broken = temp("broken.onnx");
    std::fs::write(&broken, b"\x08\x07 definitely not a model").unwrap();
    let out = onnx2esp()
        .args(["generate"])
        .arg(&broken)
        .arg("-o")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "previous contents\n"
    );
}

#[test]
fn memory_budgets_are_enforced_with_figures_and_warned_when_close() {
    let over = onnx2esp()
        .args(["generate", MODEL, "--max-ram", "600"])
        .output()
        .unwrap();
    assert_eq!(over.status.code(), Some(2));
    let err = String::from_utf8_lossy(&over.stderr);
    assert!(
        err.contains("needs 640 bytes, over the budget of 600"),
        "{err}"
    );
    assert!(err.contains("--max-ram"), "{err}");

    let flash = onnx2esp()
        .args(["generate", MODEL, "--max-flash", "1000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&flash.stderr);
    assert!(
        err.contains("weights (flash) needs 1424 bytes, over the budget of 1000"),
        "{err}"
    );

    let close = onnx2esp()
        .args(["generate", MODEL, "--max-ram", "700"])
        .output()
        .unwrap();
    assert!(close.status.success());
    let warning = String::from_utf8_lossy(&close.stderr);
    assert!(
        warning.contains("warning:") && warning.contains("640 of 700 bytes"),
        "{warning}"
    );
}

/// `--scales` picks the policy: ONNX Runtime's quantizer writes scales that are not powers of
/// two, which `exact` (the default) lists and refuses and `snap` rounds, nearest or up.
#[test]
fn the_scale_policy_flags_choose_between_refusing_and_snapping() {
    let model = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/codegen-tests/models/ort/digits_ort_qdq.onnx"
    );
    let exact = onnx2esp().args(["generate", model]).output().unwrap();
    assert_eq!(exact.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&exact.stderr);
    assert!(
        stderr.contains("10 quantized tensor(s) have no exact power-of-two exponent")
            && stderr.contains(
                "tensor 'input_QuantizeLinear_Output' (QuantizeLinear 'input_QuantizeLinear')"
            ),
        "{stderr}"
    );
    let mut outputs = Vec::new();
    for snap in ["nearest", "ceil"] {
        let out = onnx2esp()
            .args(["generate", model, "--scales", "snap", "--snap", snap])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(String::from_utf8(out.stdout).unwrap());
    }
    // The logits scale 0.266 snaps to 2^-2 (nearest) or 2^-1 (ceil).
    assert!(outputs[0].contains("pub const OUTPUT_EXPONENT: i32 = -2;"));
    assert!(outputs[1].contains("pub const OUTPUT_EXPONENT: i32 = -1;"));
    // --snap means nothing under exact: a usage error, not silently ignored.
    let ignored = onnx2esp()
        .args(["generate", model, "--snap", "ceil"])
        .output()
        .unwrap();
    assert_eq!(ignored.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ignored.stderr).contains("add --scales snap"));
}

#[test]
fn rounding_mode_is_chosen_by_flag_and_stated_in_the_header() {
    let (status, default, _) = generate_to_stdout(&[]);
    assert!(status.success());
    assert!(default.contains("// Rounding: half-even"), "{default}");
    assert!(default.contains("const ROUND_HALF_UP: bool = false;"));
    let (status, even, _) = generate_to_stdout(&["--rounding", "half-even"]);
    assert!(status.success());
    assert_eq!(even, default);
    let (status, up, _) = generate_to_stdout(&["--rounding", "half-up"]);
    assert!(status.success());
    assert!(up.contains("// Rounding: half-up"), "{up}");
    assert!(up.contains("const ROUND_HALF_UP: bool = true;"));
    let (status, _, stderr) = generate_to_stdout(&["--rounding", "nearest"]);
    assert!(!status.success());
    assert!(
        stderr.contains("half-even") && stderr.contains("half-up"),
        "{stderr}"
    );
}

/// `--unroll` sizes the register tiles: the Gemm's 10 output units go 4 at a time by default
/// (two blocks of 4, then 2 one at a time) and one at a time with `--unroll 1`; 0 is refused.
/// (esp32c3: int8 rows, one per unit; the esp32s3 layout is checked below.)
#[test]
fn unroll_budget_sizes_the_register_tiles() {
    let (status, default, _) = generate_to_stdout(&["--target-cpu", "esp32c3"]);
    assert!(status.success());
    assert!(
        default.contains("let ([row0, row1, row2, row3], [b0, b1, b2, b3]) = (rows, biases);"),
        "{default}"
    );
    let (status, explicit, _) = generate_to_stdout(&["--target-cpu", "esp32c3", "--unroll", "12"]);
    assert!(status.success());
    assert_eq!(
        without_regenerate_line(&explicit),
        without_regenerate_line(&default)
    );
    let (status, one, _) = generate_to_stdout(&["--target-cpu", "esp32c3", "--unroll", "1"]);
    assert!(status.success());
    assert!(
        one.contains("let ([row0], [b0]) = (rows, biases);"),
        "{one}"
    );
    assert!(!one.contains("row1"), "{one}");
    let (status, _, stderr) = generate_to_stdout(&["--unroll", "0"]);
    assert!(!status.success());
    assert!(stderr.contains("--unroll"), "{stderr}");
}

/// `--target-cpu` picks the unroll budget when `--unroll` is absent: esp32c3 and generic take
/// 12, esp32s3 (the default) 6; an explicit `--unroll` wins; an unknown CPU is refused. esp32s3
/// also stores the Gemm's weights as offset u8 blocks, whatever the unroll budget.
#[test]
fn target_cpu_chooses_the_unroll_budget() {
    let (status, default, _) = generate_to_stdout(&[]);
    assert!(status.success());
    let (status, s3, _) = generate_to_stdout(&["--target-cpu", "esp32s3"]);
    assert!(status.success());
    assert_eq!(s3, default);
    let (status, s3_six, _) = generate_to_stdout(&["--unroll", "6"]);
    assert!(status.success());
    assert_eq!(s3_six, default);
    assert!(
        default.contains("static GEMM_2_WEIGHTS: Align16<[[[u8; 4]; 128]; 2]>")
            && default.contains("let offset = 128 * x.iter().fold(0i32"),
        "{default}"
    );
    let (status, c3, _) = generate_to_stdout(&["--target-cpu", "esp32c3"]);
    assert!(status.success());
    assert!(
        c3.contains("static GEMM_2_WEIGHTS: Align16<[[i8; 128]; 10]>")
            && !c3.contains("let offset"),
        "{c3}"
    );
    let (status, twelve, _) = generate_to_stdout(&["--target-cpu", "esp32c3", "--unroll", "12"]);
    assert!(status.success());
    assert_eq!(
        without_regenerate_line(&c3),
        without_regenerate_line(&twelve)
    );
    let (status, s3_twelve, _) = generate_to_stdout(&["--unroll", "12"]);
    assert!(status.success());
    assert!(s3_twelve.contains("[[[u8; 4]; 128]; 2]"), "{s3_twelve}");
    let (status, generic, _) = generate_to_stdout(&["--target-cpu", "generic"]);
    assert!(status.success());
    assert_eq!(
        without_regenerate_line(&generic),
        without_regenerate_line(&twelve)
    );
    let (status, c3_one, _) = generate_to_stdout(&["--target-cpu", "esp32c3", "--unroll", "1"]);
    assert!(status.success());
    let (_, one, _) = generate_to_stdout(&["--target-cpu", "generic", "--unroll", "1"]);
    assert_eq!(
        without_regenerate_line(&c3_one),
        without_regenerate_line(&one)
    );
    let (status, _, stderr) = generate_to_stdout(&["--target-cpu", "esp32"]);
    assert!(!status.success());
    assert!(stderr.contains("esp32s3, esp32c3 or generic"), "{stderr}");
}

#[test]
fn arena_section_adds_the_section_macro_and_rejects_unsafe_names() {
    let placed = onnx2esp()
        .args(["generate", MODEL, "--arena-section", ".ext_ram.bss"])
        .output()
        .unwrap();
    assert!(
        placed.status.success(),
        "{}",
        String::from_utf8_lossy(&placed.stderr)
    );
    let code = String::from_utf8(placed.stdout).unwrap();
    assert!(code.contains("pub const ARENA_LINK_SECTION: &str = \".ext_ram.bss\";"));
    assert!(code.contains("#[unsafe (link_section = \".ext_ram.bss\")]"));
    assert!(code.contains("pub(crate) use in_arena_section;"));

    let plain = onnx2esp().args(["generate", MODEL]).output().unwrap();
    assert!(!String::from_utf8(plain.stdout)
        .unwrap()
        .contains("link_section"));

    // The name becomes a string literal in an attribute: nothing may end it early.
    for bad in ["", ".ext_ram\"]\n#[no_mangle]", "a b", ".bss\\"] {
        let rejected = onnx2esp()
            .args(["generate", MODEL, "--arena-section", bad])
            .output()
            .unwrap();
        assert_eq!(rejected.status.code(), Some(2), "{bad:?}");
        let err = String::from_utf8_lossy(&rejected.stderr);
        assert!(err.contains("arena link section"), "{bad:?}: {err}");
        assert!(rejected.stdout.is_empty());
    }
}

/// Statics of at least `--weights-file-threshold` bytes go to `<module>.weights.bin` beside
/// the module; `--check` compares that file too and names what differs; `--inline-weights`
/// removes it again; stdout carries the module alone, every weight inline.
#[test]
fn weights_file_is_written_checked_and_removed() {
    let module = temp("placed.rs");
    let weights = temp("placed.weights.bin");
    let _ = std::fs::remove_file(&weights);
    let run = |extra: &[&str]| {
        onnx2esp()
            .args(["generate", MODEL, "--target-cpu", "esp32c3", "-o"])
            .arg(&module)
            .args(extra)
            .output()
            .unwrap()
    };
    // digits.onnx with esp32c3's int8 rows: one static of 1280 bytes (the Gemm's weights),
    // the others below 100.
    let written = run(&["--weights-file-threshold", "1000"]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let code = std::fs::read_to_string(&module).unwrap();
    assert!(
        code.contains("include_bytes!(\"placed.weights.bin\")"),
        "{code}"
    );
    assert!(
        code.contains("// Weights file: placed.weights.bin, 1296 bytes beside"),
        "{code}"
    );
    let bytes = std::fs::read(&weights).unwrap();
    assert!(bytes.starts_with(b"onnx2esp"));
    // The 16-byte header, then the one static of at least 1000 bytes.
    assert_eq!(bytes.len(), 16 + 1280);
    assert_eq!(
        run(&["--weights-file-threshold", "1000", "--check"])
            .status
            .code(),
        Some(0)
    );

    // One weight changed on disk: --check fails, naming the file and the static.
    let mut changed = bytes.clone();
    changed[16 + 5] ^= 1;
    std::fs::write(&weights, &changed).unwrap();
    let stale = run(&["--weights-file-threshold", "1000", "--check"]);
    assert_eq!(stale.status.code(), Some(1));
    let err = String::from_utf8_lossy(&stale.stderr);
    assert!(
        err.contains("placed.weights.bin is stale")
            && err.contains("first difference is at byte 21")
            && err.contains("static GEMM_2_WEIGHTS, its byte 5"),
        "{err}"
    );
    assert!(!err.contains("placed.rs is stale"), "{err}");
    // --check never writes.
    assert_eq!(std::fs::read(&weights).unwrap(), changed);

    std::fs::remove_file(&weights).unwrap();
    let missing = run(&["--weights-file-threshold", "1000", "--check"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("it is missing"));

    // Back to inline: the module no longer reads the file, and generating removes it.
    std::fs::write(&weights, &bytes).unwrap();
    let inline = run(&["--inline-weights", "--check"]);
    assert_eq!(inline.status.code(), Some(1));
    let err = String::from_utf8_lossy(&inline.stderr);
    assert!(
        err.contains("placed.weights.bin is stale") && err.contains("delete it"),
        "{err}"
    );
    assert!(run(&["--inline-weights"]).status.success());
    assert!(!weights.exists());
    assert!(!std::fs::read_to_string(&module)
        .unwrap()
        .contains("include_bytes!"));
    assert_eq!(run(&["--inline-weights", "--check"]).status.code(), Some(0));

    // stdout has room for one file only.
    let printed = onnx2esp()
        .args(["generate", MODEL, "--weights-file-threshold", "0"])
        .output()
        .unwrap();
    assert_eq!(printed.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&printed.stderr).contains("--output"));
}

/// Under the default threshold (4096 bytes) MobileNetV2's large weights go to the file and
/// the small models stay one file; stdout keeps everything inline.
#[test]
fn the_default_threshold_moves_only_large_weights() {
    let mobilenet = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/codegen-tests/models/mobilenet_v2_esppq.onnx"
    );
    let module = temp("mobilenet.rs");
    let status = onnx2esp()
        .args(["generate", mobilenet, "-o"])
        .arg(&module)
        .status()
        .unwrap();
    assert!(status.success());
    let code = std::fs::read_to_string(&module).unwrap();
    assert!(code.contains("include_bytes!(\"mobilenet.weights.bin\")"));
    assert!(
        code.contains("the statics of at least 4096 bytes (--weights-file-threshold)"),
        "{}",
        &code[..3000]
    );
    assert!(temp("mobilenet.weights.bin").exists());

    let small = temp("small.rs");
    let status = onnx2esp()
        .args(["generate", MODEL, "-o"])
        .arg(&small)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!std::fs::read_to_string(&small)
        .unwrap()
        .contains("include_bytes!"));
    assert!(!temp("small.weights.bin").exists());

    let printed = onnx2esp().args(["generate", mobilenet]).output().unwrap();
    assert!(printed.status.success());
    assert!(!String::from_utf8(printed.stdout)
        .unwrap()
        .contains("include_bytes!"));
}

/// The header's "Regenerate" line, run as written from the module's directory, writes the
/// same bytes (module and weights file) for every option that shapes the output, whichever
/// way the paths were spelled and wherever the first command ran; and `--check` passes on it.
#[test]
fn the_header_command_reproduces_the_file_for_every_option() {
    let root = env!("CARGO_MANIFEST_DIR");
    let samples = recorded_samples("regenerate-samples", 0.0);
    let ort = format!("{root}/codegen-tests/models/ort/digits_ort_qdq.onnx");
    let swish = format!("{root}/examples/custom-layer/models/digits_swish.onnx");
    let templates = format!("{root}/examples/custom-layer/templates");
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        ("defaults", MODEL.to_string(), vec![]),
        ("snapped", ort.clone(), vec!["--scales", "snap"]),
        ("ceil", ort, vec!["--scales", "snap", "--snap", "ceil"]),
        ("half_up", MODEL.into(), vec!["--rounding", "half-up"]),
        ("unrolled", MODEL.into(), vec!["--unroll", "7"]),
        ("c3", MODEL.into(), vec!["--target-cpu", "esp32c3"]),
        (
            "c3_unrolled",
            MODEL.into(),
            vec!["--target-cpu", "esp32c3", "--unroll", "6"],
        ),
        (
            "placed",
            MODEL.into(),
            vec!["--weights-file-threshold", "1000"],
        ),
        ("inline", MODEL.into(), vec!["--inline-weights"]),
        (
            "section",
            MODEL.into(),
            vec!["--arena-section", ".ext_ram.bss"],
        ),
        (
            "budget",
            MODEL.into(),
            vec!["--max-ram", "2000", "--max-flash", "4000"],
        ),
        (
            "shaped",
            MODEL.into(),
            vec!["--input-shape", "input=1,1,8,8"],
        ),
        ("custom", swish, vec!["--templates", &templates]),
        (
            "embedded",
            MODEL.into(),
            vec![
                "--embed-tests",
                "3",
                "--test-inputs",
                &samples.0,
                "--test-outputs",
                &samples.1,
            ],
        ),
    ];
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("regenerate");
    for (name, model, flags) in cases {
        let first = base.join(name).join("first");
        let second = base.join(name).join("second");
        for dir in [&first, &second] {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).unwrap();
        }
        // Absolute paths, run from the repository root.
        let made = onnx2esp()
            .current_dir(root)
            .args(["generate", &model, "-o"])
            .arg(first.join("model.rs"))
            .args(&flags)
            .output()
            .unwrap();
        assert!(
            made.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        let code = std::fs::read_to_string(first.join("model.rs")).unwrap();
        let command = code
            .lines()
            .find_map(|line| line.strip_prefix("// Regenerate (from this file's directory): "))
            .unwrap_or_else(|| panic!("{name}: no Regenerate line in\n{}", &code[..800]));
        let args = command
            .strip_prefix("onnx2esp ")
            .unwrap_or_else(|| panic!("{name}: {command}"));
        // The same command from the other directory, through a shell as a user would run it.
        let rerun = Command::new("sh")
            .current_dir(&first)
            .arg("-c")
            .arg(format!(
                "'{}' {} && '{}' {} --check",
                env!("CARGO_BIN_EXE_onnx2esp"),
                args.replacen("-o model.rs", "-o ../second/model.rs", 1),
                env!("CARGO_BIN_EXE_onnx2esp"),
                args
            ))
            .output()
            .unwrap();
        assert!(
            rerun.status.success(),
            "{name}: `{command}` failed:\n{}",
            String::from_utf8_lossy(&rerun.stderr)
        );
        let again = std::fs::read_to_string(second.join("model.rs")).unwrap();
        assert_eq!(code, again, "{name}: `{command}` wrote other bytes");
        let weights = |dir: &std::path::Path| std::fs::read(dir.join("model.weights.bin")).ok();
        assert_eq!(weights(&first), weights(&second), "{name}: weights files");
        for flag in flags.iter().filter(|f| f.starts_with("--")) {
            assert!(command.contains(flag), "{name}: `{command}` lacks {flag}");
        }
    }
}

#[test]
fn dash_output_is_stdout() {
    let dir = temp("dash");
    std::fs::create_dir_all(&dir).unwrap();
    let printed = onnx2esp()
        .current_dir(&dir)
        .args(["generate", MODEL, "-o", "-"])
        .output()
        .unwrap();
    assert!(printed.status.success());
    let (_, stdout, _) = generate_to_stdout(&[]);
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), stdout);
    assert!(!dir.join("-").exists(), "a file named '-' was written");
    let check = onnx2esp()
        .args(["generate", MODEL, "-o", "-", "--check"])
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&check.stderr).contains("-o - is stdout"));
}

#[test]
fn check_on_a_missing_file_says_it_is_missing_without_a_diff() {
    let path = temp("never_written.rs");
    let _ = std::fs::remove_file(&path);
    let out = onnx2esp()
        .args(["generate", MODEL, "--check", "-o"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("never_written.rs is stale: it is missing"),
        "{err}"
    );
    assert!(err.lines().count() < 5, "{err}");
    assert!(!path.exists(), "--check wrote the file");
}

#[test]
fn usage_errors_name_the_subcommand_and_the_option() {
    let (status, _, err) = generate_to_stdout(&["--snap", "ceil"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.contains("add --scales snap"), "{err}");
    assert!(err.contains("Usage: onnx2esp generate"), "{err}");

    let (status, _, err) = generate_to_stdout(&["--input-shape", "nosuch=1,2"]);
    assert_eq!(status.code(), Some(2));
    assert!(err.starts_with("error: --input-shape: "), "{err}");
}

#[test]
fn help_states_the_exit_codes() {
    let help = onnx2esp().arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("1 when `generate --check` finds a stale file")
            && text.contains("or `compare` a layer that differs")
            && text.contains("2 on any error"),
        "{text}"
    );
}

/// The recording of `MODEL` (the digits_qat fixture) as `.npy` files in a directory of the
/// target's temporary directory, with `shift` added to every expected output: (inputs, outputs).
fn recorded_samples(name: &str, shift: f32) -> (String, String) {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!(
        "{root}/codegen-tests/models/digits_qat.expected.json"
    ))
    .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = Vec::new();
    for (key, add) in [("inputs", 0.0), ("outputs", shift)] {
        let rows = json[key].as_array().unwrap();
        let values: Vec<f32> = rows
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter())
            .map(|v| v.as_f64().unwrap() as f32 + add)
            .collect();
        let path = dir.join(format!("{key}.npy"));
        onnx2esp::npy::write(&path, &[rows.len(), values.len() / rows.len()], &values).unwrap();
        paths.push(path.display().to_string());
    }
    (paths[0].clone(), paths[1].clone())
}

/// `--embed-tests` refuses expected outputs that are not whole output steps, naming the
/// sample and element, and a count above what the files hold.
#[test]
fn embedded_samples_must_be_on_the_output_grid_and_enough() {
    let (inputs, off_grid) = recorded_samples("off-grid-samples", 0.1);
    let run = |count: &str, outputs: &str| {
        onnx2esp()
            .args(["generate", MODEL, "-o", "-", "--embed-tests", count])
            .args(["--test-inputs", &inputs, "--test-outputs", outputs])
            .output()
            .unwrap()
    };
    let refused = run("2", &off_grid);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("--test-outputs: sample 0, element 0:")
            && stderr.contains("is not a whole int8 step of 2^-2"),
        "{stderr}"
    );
    let (_, on_grid) = recorded_samples("on-grid-samples", 0.0);
    let too_many = run("361", &on_grid);
    assert_eq!(too_many.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&too_many.stderr);
    assert!(
        stderr.contains("does not hold 361 whole inputs"),
        "{stderr}"
    );
    assert!(run("360", &on_grid).status.success());
}
