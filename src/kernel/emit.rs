//! What a layer's kernel hands to its template: the context variables and the weight statics
//! (the emitter renders them into a Rust function).

use crate::options::KernelProfile;
use crate::quant::QType;
use serde::Serialize;

/// Element type of a weight static.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    I8,
    /// Offset weights (`w + 128`, see [`KernelEmit::offset_weight_blocks`]).
    U8,
    I16,
    I32,
    /// Index tables.
    U16,
    U32,
}

impl Elem {
    pub fn rust(self) -> &'static str {
        match self {
            Elem::I8 => "i8",
            Elem::U8 => "u8",
            Elem::I16 => "i16",
            Elem::I32 => "i32",
            Elem::U16 => "u16",
            Elem::U32 => "u32",
        }
    }

    /// The narrowest index type for indices below `len`.
    pub fn index_below(len: usize) -> Elem {
        if len <= u16::MAX as usize {
            Elem::U16
        } else {
            Elem::U32
        }
    }

    pub fn bytes(self) -> usize {
        match self {
            Elem::I8 | Elem::U8 => 1,
            Elem::I16 | Elem::U16 => 2,
            Elem::I32 | Elem::U32 => 4,
        }
    }
}

/// A 16-byte aligned `static` array holding constant data of one layer.
#[derive(Debug, Clone)]
pub struct StaticArray {
    pub name: String,
    pub elem: Elem,
    /// Outer to inner; the last dimension is the innermost array.
    pub dims: Vec<usize>,
    pub values: Vec<i64>,
}

impl StaticArray {
    pub fn bytes(&self) -> usize {
        self.values.len() * self.elem.bytes()
    }
}

/// What a kernel hands to its template.
pub struct KernelEmit {
    context: tera::Context,
    prefix: String,
    pub statics: Vec<StaticArray>,
    pub description: String,
    input_vars: Vec<String>,
    output_var: &'static str,
    output_type: QType,
    profile: KernelProfile,
    in_place: bool,
}

/// The one buffer of a layer that runs in place: it holds the input on entry and the output
/// on return.
const IN_PLACE_BUFFER: &str = "data";

impl KernelEmit {
    /// `fn_name` is the layer function's name; `inputs` the lengths of its input buffers.
    /// `in_place` (a pointwise layer the memory plan lets overwrite its one input): the
    /// function takes a single `data: &mut [T; N]` for both. A layer with model state
    /// (`state`: its length and whether the layer writes it) takes `state` last.
    pub fn new(
        fn_name: &str,
        inputs: &[(usize, QType)],
        output: (usize, QType),
        in_place: bool,
        state: Option<(usize, bool)>,
    ) -> KernelEmit {
        let (out_len, out_type) = output;
        let (names, params) = if in_place {
            let param = format!("{IN_PLACE_BUFFER}: &mut [{}; {out_len}]", out_type.rust());
            (vec![IN_PLACE_BUFFER.to_string()], vec![param])
        } else {
            let names: Vec<String> = (0..inputs.len())
                .map(|i| Self::input_name(i, inputs.len()))
                .collect();
            let params = names
                .iter()
                .zip(inputs)
                .map(|(name, (len, ty))| format!("{name}: &[{}; {len}]", ty.rust()))
                .chain(std::iter::once(format!(
                    "output: &mut [{}; {out_len}]",
                    out_type.rust()
                )))
                .collect();
            (names, params)
        };
        let mut params = params;
        if let Some((len, writes)) = state {
            let access = if writes { "&mut" } else { "&" };
            params.push(format!("state: {access} [i32; {len}]"));
        }
        let mut context = tera::Context::new();
        context.insert("fn_name", fn_name);
        // No clamp unless the kernel sets one (see `Clamp::set`).
        context.insert("clamp", "");
        context.insert("in_place", &in_place);
        context.insert("signature", &format!("{fn_name}({})", params.join(", ")));
        KernelEmit {
            context,
            prefix: fn_name.to_uppercase(),
            statics: Vec::new(),
            description: String::new(),
            input_vars: names,
            output_var: if in_place { IN_PLACE_BUFFER } else { "output" },
            output_type: out_type,
            profile: KernelProfile {
                unroll: 1,
                offset_weights: false,
            },
            in_place,
        }
    }

    /// The kernel profile (`--target-cpu`, `--unroll`); its unroll budget is also the
    /// template variable `unroll`.
    pub fn set_profile(&mut self, profile: KernelProfile) {
        self.profile = KernelProfile {
            unroll: profile.unroll.max(1),
            ..profile
        };
        self.set("unroll", self.profile.unroll);
    }

    /// How many multiply-accumulates an innermost loop body may write out.
    pub fn unroll(&self) -> usize {
        self.profile.unroll
    }

    /// Whether the target prefers offset u8 weights ([`KernelEmit::offset_weight_blocks`]).
    pub fn offset_weights(&self) -> bool {
        self.profile.offset_weights
    }

    /// The element type of the output buffer.
    pub fn output_type(&self) -> QType {
        self.output_type
    }

    /// Whether the layer overwrites its input (see [`KernelEmit::new`]).
    pub fn in_place(&self) -> bool {
        self.in_place
    }

    /// The Rust names of the input buffers, in order (`input`, or `input0`, `input1`...;
    /// `data` in place).
    pub fn input_vars(&self) -> &[String] {
        &self.input_vars
    }

    /// The Rust name of the output buffer: `output`, or `data` in place.
    pub fn output_var(&self) -> &str {
        self.output_var
    }

    /// The parameter name of input `index` of `count`: `input` alone, else `input0`, `input1`...
    pub fn input_name(index: usize, count: usize) -> String {
        if count == 1 {
            "input".to_string()
        } else {
            format!("input{index}")
        }
    }

    /// Sets a template variable.
    pub fn set<T: Serialize>(&mut self, key: &str, value: T) {
        self.context.insert(key, &value);
    }

    /// Registers a weight static and returns its Rust name (use `NAME.0` in templates).
    pub fn add_static(
        &mut self,
        suffix: &str,
        elem: Elem,
        dims: &[usize],
        values: Vec<i64>,
    ) -> String {
        let name = format!("{}_{suffix}", self.prefix);
        self.statics.push(StaticArray {
            name: name.clone(),
            elem,
            dims: dims.to_vec(),
            values,
        });
        name
    }

    /// The statics of a layer with one row of int8 weights and one int32 bias per output:
    /// `WEIGHTS` (`[outputs][per_output]`) and `BIAS`, named in the template variables
    /// `weights` and `bias`.
    pub fn weights_and_bias(&mut self, weights: &[i8], per_output: usize, bias: &[i32]) {
        let name = self.add_static(
            "WEIGHTS",
            Elem::I8,
            &[bias.len(), per_output],
            weights.iter().map(|&w| w as i64).collect(),
        );
        self.set("weights", name);
        let name = self.add_static(
            "BIAS",
            Elem::I32,
            &[bias.len()],
            bias.iter().map(|&b| b as i64).collect(),
        );
        self.set("bias", name);
    }

    /// The statics of a layer whose weights are read `block` outputs at a time, each weight
    /// stored as `w + 128` in a u8 (loaded without a sign extension; the kernel subtracts
    /// `128 * sum(x)`): `WEIGHTS`, `[outputs / block][per_output][block]`, the weights of a
    /// block's outputs side by side so that one pointer walks them; `WEIGHTS_REST`,
    /// `[outputs % block][per_output][1]`, the outputs left over; and `BIAS`. `weights` is one
    /// row per output, as in [`KernelEmit::weights_and_bias`]. Sets `weights`, `weights_rest`
    /// (empty when there is no rest) and `bias`.
    pub fn offset_weight_blocks(
        &mut self,
        weights: &[i8],
        per_output: usize,
        block: usize,
        bias: &[i32],
    ) {
        let outputs = bias.len();
        let block = block.max(1);
        let interleave = |first: usize, count: usize, width: usize| -> Vec<i64> {
            (0..count)
                .flat_map(|b| {
                    (0..per_output).flat_map(move |k| {
                        (0..width).map(move |o| {
                            i64::from(weights[(first + b * width + o) * per_output + k]) + 128
                        })
                    })
                })
                .collect()
        };
        let blocks = outputs / block;
        let rest = outputs % block;
        let name = if blocks > 0 {
            let values = interleave(0, blocks, block);
            self.add_static("WEIGHTS", Elem::U8, &[blocks, per_output, block], values)
        } else {
            String::new()
        };
        self.set("weights", name);
        let name = if rest > 0 {
            let values = interleave(blocks * block, rest, 1);
            self.add_static("WEIGHTS_REST", Elem::U8, &[rest, per_output, 1], values)
        } else {
            String::new()
        };
        self.set("weights_rest", name);
        let name = self.add_static(
            "BIAS",
            Elem::I32,
            &[outputs],
            bias.iter().map(|&b| b as i64).collect(),
        );
        self.set("bias", name);
    }

    /// One line describing the layer's parameters, for its doc comment.
    pub fn describe(&mut self, text: String) {
        self.description = text;
    }

    pub fn context(&self) -> &tera::Context {
        &self.context
    }
}
