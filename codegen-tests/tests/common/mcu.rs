//! What the MCU runners' host tests (qemu.rs for riscv32imc, xtensa.rs) share: reading the
//! runner's log, the host's integer outputs of the same modules, and the checks that hold the
//! runner's log to the recordings and to the host.

use std::collections::BTreeMap;

// `for_each_recorded_model!`: every module generated from `models/*.onnx` (the fixtures the
// runners embed).
include!(concat!(env!("OUT_DIR"), "/recorded_models.rs"));

/// The module names of the models of `models/`, the fixtures the runners run.
pub fn recorded_models() -> Vec<&'static str> {
    let mut names = Vec::new();
    macro_rules! name {
        ($m:ident) => {
            names.push(stringify!($m))
        };
    }
    for_each_recorded_model!(name);
    names
}

/// What a runner reported, read from its log.
pub struct RunnerLog {
    /// The integer outputs, int8 or int16 (`out NAME SAMPLE v v v ...` lines), by fixture
    /// and sample.
    pub outputs: BTreeMap<String, BTreeMap<usize, Vec<i16>>>,
    /// The sample count of each fixture's summary line (`fixture NAME: N samples, ...`).
    pub samples: BTreeMap<String, usize>,
    /// The `skipped NAME: why` lines.
    pub skipped: Vec<String>,
    /// The mean instructions per inference of `run` and of `predict`, by fixture
    /// (`instructions NAME: run N per inference (...), predict M (...)`).
    pub instructions: BTreeMap<String, Instructions>,
}

/// Mean instructions per inference over a fixture's samples.
#[derive(Clone, Copy, Debug)]
pub struct Instructions {
    pub run: u64,
    pub predict: u64,
}

/// `NAME: run N per inference (min A, max B), predict M (min C, max D)`, the rest of a
/// runner's `instructions` line.
fn parse_instructions(rest: &str) -> (String, Instructions) {
    let (name, counts) = rest.split_once(": ").expect("instructions NAME: ...");
    let after = |key: &str| -> u64 {
        let start = counts
            .find(key)
            .unwrap_or_else(|| panic!("no `{key}` in the instructions line of {name}"))
            + key.len();
        counts[start..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count after `{key}` in the instructions line of {name}"))
    };
    (
        name.to_owned(),
        Instructions {
            run: after("run "),
            predict: after("predict "),
        },
    )
}

/// Reads a runner's log; every line but the `out` lines is printed.
pub fn parse_log(log: &str) -> RunnerLog {
    let mut parsed = RunnerLog {
        outputs: BTreeMap::new(),
        samples: BTreeMap::new(),
        skipped: Vec::new(),
        instructions: BTreeMap::new(),
    };
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("out ") {
            let mut words = rest.split_whitespace();
            let name = words.next().expect("fixture name").to_owned();
            let sample: usize = words.next().expect("sample").parse().expect("sample index");
            let values = words
                .map(|w| w.parse().expect("an int8 or int16 output"))
                .collect();
            let previous = parsed
                .outputs
                .entry(name.clone())
                .or_default()
                .insert(sample, values);
            assert!(previous.is_none(), "{name} sample {sample} printed twice");
            continue;
        }
        println!("{line}");
        if let Some((name, rest)) = line
            .strip_prefix("fixture ")
            .and_then(|rest| rest.split_once(": "))
        {
            if let Some((count, _)) = rest.split_once(" samples") {
                parsed
                    .samples
                    .insert(name.to_owned(), count.parse().expect("a sample count"));
            }
        }
        if let Some(rest) = line.strip_prefix("instructions ") {
            let (name, counts) = parse_instructions(rest);
            parsed.instructions.insert(name, counts);
        }
        if line.starts_with("skipped ") {
            parsed.skipped.push(line.to_owned());
        }
    }
    parsed
}

/// The integer outputs of `predict` on the host for every recorded sample of every model of
/// `models/`, by module name. Each output must be an exact multiple of the LSB within the
/// output port's type (int8, or int16 for a port quantized to int16).
pub fn host_outputs() -> BTreeMap<&'static str, Vec<Vec<i16>>> {
    let mut all = BTreeMap::new();
    macro_rules! host {
        ($m:ident) => {{
            use codegen_tests::$m as m;
            let name = stringify!($m);
            let recording = super::load(name);
            let mut model = m::Model::new();
            let lsb = 2f32.powi(m::OUTPUT_EXPONENT);
            let range = output_range(m::Model::run);
            let mut outputs = Vec::new();
            for input in &recording.inputs {
                let mut y = [0f32; m::OUTPUT_LEN];
                model.predict(input.as_slice().try_into().expect("input length"), &mut y);
                outputs.push(
                    y.iter()
                        .map(|&v| {
                            let q = v / lsb;
                            assert!(
                                q.fract() == 0.0 && range.contains(&q),
                                "{name}: host output {v} is not a multiple of {lsb} in {range:?}"
                            );
                            q as i16
                        })
                        .collect(),
                );
            }
            all.insert(name, outputs);
        }};
    }
    for_each_recorded_model!(host);
    all
}

/// The values of a module's output element type, read off the type of its `run`.
fn output_range<M, I: ?Sized, O: OutputElement, const N: usize>(
    _run: fn(&mut M, &I, &mut [O; N]),
) -> std::ops::RangeInclusive<f32> {
    O::RANGE
}

/// The integer types of output ports.
trait OutputElement {
    const RANGE: std::ops::RangeInclusive<f32>;
}

impl OutputElement for i8 {
    const RANGE: std::ops::RangeInclusive<f32> = -128.0..=127.0;
}

impl OutputElement for i16 {
    const RANGE: std::ops::RangeInclusive<f32> = -32768.0..=32767.0;
}

/// Fails unless the runner skipped no fixture, ran exactly the models of `models/` (the list
/// build.rs generates), reported and printed every sample of each recording, and each output
/// it printed equals the host's, bit for bit.
pub fn assert_equal_to_host(isa: &str, log: &RunnerLog) {
    assert!(
        log.skipped.is_empty(),
        "the {isa} runner skipped fixtures: {:?}",
        log.skipped
    );
    let host = host_outputs();
    assert!(!host.is_empty(), "build.rs listed no models");
    let ran: Vec<&String> = log.outputs.keys().collect();
    let expected: Vec<&&str> = host.keys().collect();
    assert_eq!(
        ran, expected,
        "the fixtures the {isa} runner ran are not the models of models/"
    );
    for (name, host) in &host {
        let got = &log.outputs[*name];
        assert_eq!(
            log.samples.get(*name),
            Some(&host.len()),
            "{name}: the {isa} runner's sample count differs from the recording's {}",
            host.len()
        );
        assert_eq!(
            got.len(),
            host.len(),
            "{name}: the {isa} runner printed {} of {} samples",
            got.len(),
            host.len()
        );
        for (i, expected) in host.iter().enumerate() {
            let values = got
                .get(&i)
                .unwrap_or_else(|| panic!("{name}: no {isa} output for sample {i}"));
            assert_eq!(
                values, expected,
                "{name} sample {i}: {isa} and host outputs differ"
            );
        }
        println!(
            "{name}: {} samples, {isa} outputs equal the host's bit for bit",
            got.len()
        );
    }
}

/// Waits for an emulator run (its output going to `log`), killing it after `limit`: a runner
/// that hangs fails the test with its log instead of stalling the suite.
pub fn wait_with_deadline(
    child: &mut std::process::Child,
    emulator: &str,
    limit: std::time::Duration,
    log: &std::path::Path,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the emulator") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{emulator} did not finish in {limit:?}; log: {}",
                log.display()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    println!("{emulator} ran {:.1?}, {status}", started.elapsed());
    status
}

/// The device's streaming check (mcu-runner's `check_streaming!`): it passed, and the keyword
/// spotter's outputs after the last frame equal the host's whole-sequence module's, bit for bit.
pub fn assert_streaming(isa: &str, log: &str) {
    use codegen_tests::recurrent::kws_gru_pt as m;
    assert!(
        log.contains("streaming kws_gru_pt: PASS"),
        "the {isa} runner's streaming check did not pass"
    );
    let recording = super::load("recurrent/kws_gru_pt");
    let lines: Vec<&str> = log
        .lines()
        .filter_map(|l| l.strip_prefix("stream kws_gru_pt "))
        .collect();
    assert!(
        !lines.is_empty(),
        "the {isa} runner printed no streaming outputs"
    );
    for line in &lines {
        let mut fields = line.split_whitespace();
        let sample: usize = fields
            .next()
            .and_then(|v| v.parse().ok())
            .expect("a sample number");
        let got: Vec<i8> = fields.map(|v| v.parse().expect("an int8")).collect();
        let input: &[f32; m::INPUT_LEN] = recording.inputs[sample]
            .as_slice()
            .try_into()
            .expect("input length");
        let mut y = [0f32; m::OUTPUT_LEN];
        m::Model::new().predict(input, &mut y);
        let lsb = 2f32.powi(m::OUTPUT_EXPONENT);
        let host: Vec<i8> = y.iter().map(|&v| (v / lsb) as i8).collect();
        assert_eq!(
            got, host,
            "{isa} streaming sample {sample} differs from the host"
        );
    }
    println!(
        "{isa}: the keyword spotter frame by frame equals the host's whole run on {} samples",
        lines.len()
    );
    // The figures docs/recurrent.md shows: exact on riscv32imc, within 50 on Xtensa (its
    // counter steps once per 25 instructions).
    let counts: Vec<u64> = log
        .lines()
        .find_map(|l| l.strip_prefix("streaming kws_gru_pt instructions: "))
        .expect("a streaming instructions line")
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|v| v.parse().ok())
        .collect();
    let table = super::doc_figures::table("docs/recurrent.md", "streaming");
    let (column, tolerance) = if isa == "xtensa" { (2, 50) } else { (1, 0) };
    for (row, measured) in ["per frame, one frame per run", "per 49-frame run"]
        .iter()
        .zip(&counts)
    {
        let cell = table
            .rows
            .get(*row)
            .map(|r| r[column].clone())
            .unwrap_or_default();
        let documented = super::doc_figures::number(&cell).unwrap_or(0);
        assert!(
            documented.abs_diff(*measured) <= tolerance,
            "{}, `{row}`, {isa}: the doc says {cell}, measured {measured}; rewrite with `{}`",
            table.name,
            super::doc_figures::REGENERATE
        );
    }
}
