//! The settings of a generation: [`Options`], the memory [`Budget`] and the [`TargetCpu`].

use crate::error::{Error, Result};
use crate::quant::Rounding;
use crate::rewrite::scales::ScalePolicy;
use std::path::PathBuf;

/// Tensors of at least this many bytes go to the weights file by default: MobileNetV2's
/// pointwise and expansion weights do, the biases and the small models' layers stay inline
/// (see docs/user-guide.md, "Placement of the weights").
pub const DEFAULT_WEIGHTS_FILE_THRESHOLD: usize = 4096;

/// Code generation settings shared by [`crate::Builder`] and the CLI.
#[derive(Debug, Clone)]
pub struct Options {
    /// A directory of user templates: custom layers and overrides of built-in kernels
    /// (see `templates/README.md`).
    pub templates: Option<PathBuf>,
    /// Static shapes for graph inputs, by name (required where the model's are dynamic).
    pub input_shapes: std::collections::BTreeMap<String, Vec<usize>>,
    /// The RAM and flash the module may use.
    pub budget: Budget,
    /// What to do with scales that are not powers of two and nonzero zero points.
    pub scales: ScalePolicy,
    /// How ties round everywhere the integer pipeline rounds (default: half to even, bit-exact
    /// with ONNX Runtime; half-up matches ESP-DL's ESP32-S3 kernels).
    pub rounding: Rounding,
    /// A link section for the arena (e.g. `.ext_ram.bss`, the ESP32-S3's PSRAM): the module
    /// gets `ARENA_LINK_SECTION` and an `in_arena_section!` macro that places the firmware's
    /// `Model` static there (the arena is inside `Model`).
    pub arena_link_section: Option<String>,
    /// The unroll budget: how many multiply-accumulates a kernel's innermost loop body may
    /// write out (the pointwise convolution's register tile; templates get it as `unroll`).
    /// More is faster until the accumulators no longer fit the registers, and bigger.
    /// `None` is the target CPU's ([`TargetCpu::unroll`]).
    pub unroll: Option<usize>,
    /// The chip the kernels are shaped for (default: [`TargetCpu::Esp32s3`]). The generated
    /// code is portable and its results are the same on every target; only its speed differs.
    pub target_cpu: TargetCpu,
    /// Weight statics of at least this many bytes go to a binary file beside the module
    /// (`model.rs` → `model.weights.bin`), read with `include_bytes!`; `None` keeps every
    /// weight inline. Default: [`DEFAULT_WEIGHTS_FILE_THRESHOLD`] (4096). Only the functions
    /// that write files or return them ([`crate::Builder::generate`], [`crate::generate_files`]) use it:
    /// those that return the module alone as a `String` inline everything, so that the
    /// module is complete.
    pub weights_file_threshold: Option<usize>,
    /// The most bytes of Rust source the layer functions may have, weight statics aside
    /// ([`DEFAULT_MAX_CODE`]): checked as each layer is rendered, so that a model of thousands
    /// of layers is refused before it takes gigabytes to generate (each function is held as a
    /// syntax tree, about a hundred times its text, until the module is assembled).
    pub max_code: usize,
    /// Recorded samples for the module's `Model::self_test` (none by default: a module
    /// without them has no `self_test`).
    pub embed_tests: Option<EmbedTests>,
}

/// The samples `Model::self_test` checks: the first `count` inputs of a float32 `.npy` and the
/// outputs a reference gave for them (e.g. ONNX Runtime's, dequantized: each must be a
/// multiple of the output's `2^e`). The module embeds them quantized, and only them: the
/// flash they take is the whole cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedTests {
    pub count: usize,
    /// `[N, ...input shape]`, or the inputs back to back.
    pub inputs: PathBuf,
    /// `[N, ...output shape]`, or the outputs back to back.
    pub outputs: PathBuf,
}

/// The default limit on the layer functions' source: 4 MiB, nine times MobileNetV2's.
pub const DEFAULT_MAX_CODE: usize = 4 << 20;

impl Options {
    /// The unroll budget: [`Options::unroll`], else the target CPU's.
    pub fn unroll_budget(&self) -> usize {
        self.unroll.unwrap_or(self.target_cpu.unroll())
    }

    /// How the kernels are shaped: the unroll budget and the target CPU's weight layout.
    pub fn kernel_profile(&self) -> KernelProfile {
        KernelProfile {
            unroll: self.unroll_budget(),
            offset_weights: self.target_cpu.offset_weights(),
        }
    }
}

/// What shapes the kernels of a module, from `--target-cpu` and `--unroll`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelProfile {
    /// How many multiply-accumulates an innermost loop body may write out.
    pub unroll: usize,
    /// Fully connected layers store their int8 weights plus 128, as u8, interleaved by
    /// register tile ([`TargetCpu::offset_weights`]).
    pub offset_weights: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            templates: None,
            input_shapes: Default::default(),
            budget: Budget::default(),
            scales: ScalePolicy::default(),
            rounding: Rounding::default(),
            arena_link_section: None,
            weights_file_threshold: Some(DEFAULT_WEIGHTS_FILE_THRESHOLD),
            unroll: None,
            max_code: DEFAULT_MAX_CODE,
            target_cpu: TargetCpu::default(),
            embed_tests: None,
        }
    }
}

/// The chip a module's kernels are shaped for: the register tiles follow its register file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TargetCpu {
    /// ESP32-S3 (Xtensa LX7): 16 visible address registers, of which a0 (return address) and
    /// a1 (stack pointer) are taken, and no sign-extending byte load.
    #[default]
    Esp32s3,
    /// ESP32-C3 (riscv32imc): 31 registers.
    Esp32c3,
    /// Any other target: the riscv32 shapes.
    Generic,
}

impl TargetCpu {
    /// The unroll budget when [`Options::unroll`] is `None`. ESP32-S3: 6, a 3 x 2 tile, whose
    /// 6 accumulators, 3 weights, 4 pointers and a loop bound fit the 14 free registers; the
    /// 4 x 3 tile spills there (MobileNetV2 under the Xtensa runner: 109.0 M instructions per
    /// inference with 4 x 3, 102.3 M with 3 x 2, 109.7 M with 2 x 2). Elsewhere
    /// [`DEFAULT_UNROLL`].
    pub fn unroll(self) -> usize {
        match self {
            TargetCpu::Esp32s3 => 6,
            TargetCpu::Esp32c3 | TargetCpu::Generic => DEFAULT_UNROLL,
        }
    }

    /// Whether weights are stored plus 128, as u8. Xtensa has no sign-extending byte load
    /// (`l8ui` then `sext`), so an int8 weight costs two instructions per load; `w + 128` as
    /// u8 is one `l8ui`, and the sum comes back exact as `sum((w + 128) x) - 128 sum(x)`,
    /// where `sum(x)` is paid once per input row, not per weight. riscv32 loads int8 with one
    /// `lb`, so there it would only add the correction.
    pub fn offset_weights(self) -> bool {
        matches!(self, TargetCpu::Esp32s3)
    }
}

impl std::str::FromStr for TargetCpu {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "esp32s3" => Ok(TargetCpu::Esp32s3),
            "esp32c3" => Ok(TargetCpu::Esp32c3),
            "generic" => Ok(TargetCpu::Generic),
            _ => Err(format!(
                "unknown target CPU {s:?}: expected esp32s3, esp32c3 or generic"
            )),
        }
    }
}

/// The riscv32imc unroll budget: a 4 x 3 register tile (4 output channels, 3 pixels). On
/// riscv32imc its inner loop is 7 loads, 12 multiplies and 12 adds without a spill; 4 x 4
/// spills accumulators to the stack, and MobileNetV2 ran 28% more instructions.
pub const DEFAULT_UNROLL: usize = 12;

/// Memory budgets: an arena or a weight set over them is an error that states the figures,
/// and using more than [`Budget::WARN_PERCENT`] of either is a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Bytes of RAM for the arena (`ARENA_BYTES`).
    pub max_ram: usize,
    /// Bytes of flash for weights and biases.
    pub max_flash: usize,
}

impl Budget {
    pub const WARN_PERCENT: usize = 80;

    /// Sized for an ESP32-S3 without PSRAM: of its 512 KiB of SRAM about 320 KiB are free for
    /// data next to esp-hal and a stack; 4 MiB is its smallest flash.
    pub const ESP32_S3: Budget = Budget {
        max_ram: 320 * 1024,
        max_flash: 4 * 1024 * 1024,
    };

    /// Errors when a module's arena or weights are over budget, warnings when close.
    pub fn check(
        &self,
        arena_bytes: usize,
        weight_bytes: usize,
        file_name: &str,
    ) -> Result<Vec<String>> {
        let mut warnings = Vec::new();
        for (what, used, limit, flag) in [
            ("arena (RAM)", arena_bytes, self.max_ram, "--max-ram"),
            (
                "weights (flash)",
                weight_bytes,
                self.max_flash,
                "--max-flash",
            ),
        ] {
            if used > limit {
                return Err(Error::Budget {
                    model: file_name.to_string(),
                    what,
                    used,
                    limit,
                    flag,
                });
            }
            if used.saturating_mul(100) > limit.saturating_mul(Self::WARN_PERCENT) {
                warnings.push(format!(
                    "{file_name}: the {what} takes {used} of {limit} bytes ({}%); raise {flag} if the target has more",
                    used.saturating_mul(100) / limit.max(1)
                ));
            }
        }
        Ok(warnings)
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::ESP32_S3
    }
}
