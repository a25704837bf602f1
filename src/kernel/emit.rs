//! What a layer's kernel hands to its template: the context variables and the weight statics
//! (the emitter renders them into a Rust function).

use crate::quant::QType;
use serde::Serialize;

/// Element type of a weight static.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    I8,
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
            Elem::I8 => 1,
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
    unroll: usize,
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
            unroll: 1,
            in_place,
        }
    }

    /// The unroll budget (`--unroll`), also the template variable `unroll`.
    pub fn set_unroll(&mut self, budget: usize) {
        self.unroll = budget.max(1);
        self.set("unroll", self.unroll);
    }

    /// How many multiply-accumulates an innermost loop body may write out.
    pub fn unroll(&self) -> usize {
        self.unroll
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

    /// One line describing the layer's parameters, for its doc comment.
    pub fn describe(&mut self, text: String) {
        self.description = text;
    }

    pub fn context(&self) -> &tera::Context {
        &self.context
    }
}
