//! What the MCU runners' host tests (qemu.rs for riscv32imc, xtensa.rs) share: reading the
//! runner's log and the host's int8 outputs of the same modules.

use std::collections::BTreeMap;

use codegen_tests::{
    digits_esppq, digits_ptq, digits_qat, kws1d_esppq, mobilenet_v2_esppq, residual_cnn_esppq,
};

/// The int8 outputs a runner printed (`out NAME SAMPLE v v v ...` lines), by fixture and
/// sample; every other line is printed.
pub fn parse_outputs(log: &str) -> BTreeMap<String, BTreeMap<usize, Vec<i8>>> {
    let mut outputs: BTreeMap<String, BTreeMap<usize, Vec<i8>>> = BTreeMap::new();
    for line in log.lines() {
        if let Some(rest) = line.strip_prefix("out ") {
            let mut words = rest.split_whitespace();
            let name = words.next().expect("fixture name").to_owned();
            let sample: usize = words.next().expect("sample").parse().expect("sample index");
            let values = words.map(|w| w.parse().expect("an int8 output")).collect();
            outputs.entry(name).or_default().insert(sample, values);
        } else {
            println!("{line}");
        }
    }
    outputs
}

/// The int8 outputs of `predict` on the host for a recorded whole-model fixture.
pub fn host_outputs(name: &str) -> Option<Vec<Vec<i8>>> {
    let recording = super::load(name);
    let mut outputs = Vec::new();
    macro_rules! with {
        ($m:ident) => {{
            let mut model = $m::Model::new();
            let lsb = 2f32.powi($m::OUTPUT_EXPONENT);
            for input in &recording.inputs {
                let mut y = [0f32; $m::OUTPUT_LEN];
                model.predict(input.as_slice().try_into().expect("input length"), &mut y);
                outputs.push(y.iter().map(|&v| (v / lsb) as i8).collect());
            }
        }};
    }
    match name {
        "digits_qat" => with!(digits_qat),
        "digits_ptq" => with!(digits_ptq),
        "digits_esppq" => with!(digits_esppq),
        "residual_cnn_esppq" => with!(residual_cnn_esppq),
        "kws1d_esppq" => with!(kws1d_esppq),
        "mobilenet_v2_esppq" => with!(mobilenet_v2_esppq),
        _ => return None,
    }
    Some(outputs)
}

/// Fails unless every recorded whole-model fixture (`models/*.expected.json`) was run by the
/// runner and each output it printed equals the host's, bit for bit.
pub fn assert_equal_to_host(isa: &str, mcu: &BTreeMap<String, BTreeMap<usize, Vec<i8>>>) {
    let models = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
    let mut names: Vec<String> = std::fs::read_dir(models)
        .expect("models/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(name.strip_suffix(".expected.json")?.to_owned())
        })
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no recordings in {models}");
    for name in &names {
        let host = host_outputs(name)
            .unwrap_or_else(|| panic!("{name}: add it to host_outputs in tests/common/mcu.rs"));
        let got = mcu
            .get(name)
            .unwrap_or_else(|| panic!("the runner printed nothing for {name}"));
        assert!(!got.is_empty());
        for (&i, values) in got {
            assert_eq!(
                values, &host[i],
                "{name} sample {i}: {isa} and host outputs differ"
            );
        }
        println!(
            "{name}: {} samples, {isa} outputs equal the host's bit for bit",
            got.len()
        );
    }
}
