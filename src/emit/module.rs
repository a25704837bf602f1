//! The module skeleton: I/O constants, `Model` with its arena, `run`/`predict`, the weight
//! statics and the integer helpers. Built with quote; layer functions come from templates.

use super::weights_file::WeightsFile;
use super::{comment_safe, RenderedLayer, StaticArray};
use crate::error::{Error, Result};
use crate::ir::{Layer, Port, QGraph, QType};
use crate::plan::{Plan, Storage};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, ToTokens};

/// Names of the items of one model input or output.
struct PortItems {
    param: Ident,
    len: Ident,
    shape: Ident,
    exponent: Ident,
    /// `2^-e` (inputs) or `2^e` (outputs), as f32.
    scale: Ident,
}

fn port_items(kind: &str, ports: &[Port], index: usize) -> PortItems {
    let upper = kind.to_uppercase();
    let (param, prefix) = if ports.len() == 1 {
        (kind.to_string(), upper)
    } else {
        // Several ports: items are named after the tensor (sanitised, and numbered when two
        // names sanitise alike).
        let mut name = super::rust_ident(&ports[index].name);
        if ports
            .iter()
            .enumerate()
            .any(|(i, p)| i != index && super::rust_ident(&p.name) == name)
        {
            name = format!("{name}_{index}");
        }
        (
            format!("{kind}_{name}"),
            format!("{upper}_{}", name.to_uppercase()),
        )
    };
    PortItems {
        param: format_ident!("{}", param),
        len: format_ident!("{}_LEN", prefix),
        shape: format_ident!("{}_SHAPE", prefix),
        exponent: format_ident!("{}_EXPONENT", prefix),
        scale: format_ident!("{}_SCALE", prefix),
    }
}

pub fn assemble(
    graph: &QGraph,
    plan: &Plan,
    layers: &[RenderedLayer],
    arena_link_section: Option<&str>,
) -> Result<syn::File> {
    let inputs: Vec<PortItems> = (0..graph.inputs.len())
        .map(|i| port_items("input", &graph.inputs, i))
        .collect();
    let outputs: Vec<PortItems> = (0..graph.outputs.len())
        .map(|i| port_items("output", &graph.outputs, i))
        .collect();

    let mut constants = TokenStream::new();
    for (kind, ports, items) in [
        ("input", &graph.inputs, &inputs),
        ("output", &graph.outputs, &outputs),
    ] {
        for (port, item) in ports.iter().zip(items) {
            let tensor = &graph.tensors[port.tensor];
            let PortItems {
                len,
                shape,
                exponent,
                scale,
                ..
            } = item;
            let n = Literal::usize_unsuffixed(tensor.len());
            let rank = Literal::usize_unsuffixed(tensor.shape.len());
            let dims = tensor.shape.iter().map(|&d| Literal::usize_unsuffixed(d));
            let e = tensor.exponent;
            let exponent_literal = Literal::i32_unsuffixed(e);
            let doc_len = format!(
                " Elements of {kind} `{}`, in ONNX layout.",
                comment_safe(&port.name)
            );
            let doc_shape = format!(
                " Shape of {kind} `{}`, in ONNX order.",
                comment_safe(&port.name)
            );
            let doc_exp = format!(
                " `real = q * 2^{e}` for {kind} `{}`.",
                comment_safe(&port.name)
            );
            // predict multiplies by these powers of two, which is exact in f32.
            let factor = Literal::f32_suffixed(2f32.powi(if kind == "input" { -e } else { e }));
            constants.extend(quote! {
                #[doc = #doc_len]
                pub const #len: usize = #n;
                #[doc = #doc_shape]
                pub const #shape: [usize; #rank] = [#(#dims),*];
                #[doc = #doc_exp]
                pub const #exponent: i32 = #exponent_literal;
                const #scale: f32 = #factor;
            });
        }
    }
    let arena_bytes = Literal::usize_unsuffixed(plan.arena_bytes);
    let arena_section = match arena_link_section {
        Some(section) if plan.arena_bytes > 0 => arena_section_items(section)?,
        _ => TokenStream::new(),
    };

    let port_type = |port: &Port| graph.tensors[port.tensor].dtype;
    let input_types: Vec<QType> = graph.inputs.iter().map(port_type).collect();
    let output_types: Vec<QType> = graph.outputs.iter().map(port_type).collect();
    let input_params: Vec<TokenStream> = inputs
        .iter()
        .zip(&input_types)
        .map(|(p, &dtype)| {
            let (param, len, ty) = (&p.param, &p.len, rust_type(dtype));
            quote!(#param: &[#ty; #len])
        })
        .collect();
    let output_params: Vec<TokenStream> = outputs
        .iter()
        .zip(&output_types)
        .map(|(p, &dtype)| {
            let (param, len, ty) = (&p.param, &p.len, rust_type(dtype));
            quote!(#param: &mut [#ty; #len])
        })
        .collect();
    let input_zeros: Vec<Literal> = input_types.iter().map(|&t| zero(t)).collect();
    let output_zeros: Vec<Literal> = output_types.iter().map(|&t| zero(t)).collect();
    let quantizers: Vec<Ident> = input_types
        .iter()
        .map(|t| format_ident!("quantize_{}", t.rust()))
        .collect();
    let run_doc = format!(
        " Runs the integer network: {} in, {} out, at the exponents above.",
        type_names(&input_types),
        type_names(&output_types)
    );
    let float_inputs: Vec<TokenStream> = inputs
        .iter()
        .map(|p| {
            let (param, len) = (&p.param, &p.len);
            quote!(#param: &[f32; #len])
        })
        .collect();
    let float_outputs: Vec<TokenStream> = outputs
        .iter()
        .map(|p| {
            let (param, len) = (&p.param, &p.len);
            quote!(#param: &mut [f32; #len])
        })
        .collect();
    let input_names: Vec<&Ident> = inputs.iter().map(|p| &p.param).collect();
    let output_names: Vec<&Ident> = outputs.iter().map(|p| &p.param).collect();
    let quantized_in: Vec<Ident> = inputs
        .iter()
        .map(|p| format_ident!("quantized_{}", p.param))
        .collect();
    let quantized_out: Vec<Ident> = outputs
        .iter()
        .map(|p| format_ident!("quantized_{}", p.param))
        .collect();
    let in_lens: Vec<&Ident> = inputs.iter().map(|p| &p.len).collect();
    let out_lens: Vec<&Ident> = outputs.iter().map(|p| &p.len).collect();
    let in_scales: Vec<&Ident> = inputs.iter().map(|p| &p.scale).collect();
    let out_scales: Vec<&Ident> = outputs.iter().map(|p| &p.scale).collect();

    let calls = layers
        .iter()
        .enumerate()
        .map(|(step, rendered)| layer_call(graph, plan, step, rendered, &inputs, &outputs))
        .collect::<Result<Vec<_>>>()?;
    let functions = layers.iter().map(|l| &l.function);
    // Models whose tensors all live in the caller's buffers never touch the arena.
    let uses_arena = |dtype: QType| {
        graph.layers.iter().any(|l| {
            l.inputs
                .iter()
                .chain([&l.output])
                .any(|&t| matches!(plan.storage[t], Storage::Arena { dtype: d, .. } if d == dtype))
        })
    };
    let arena_binding = if uses_arena(QType::I8) {
        quote!(let arena = &mut self.arena.0;)
    } else {
        // Still borrowed, so that the (empty) field counts as used.
        quote!(let _empty_arena = &mut self.arena.0;)
    };
    // int16 tensors live in an arena of their own, present only when the model has some.
    let arena_i16_len = plan
        .arenas
        .iter()
        .find(|(t, _)| *t == QType::I16)
        .map(|&(_, len)| Literal::usize_unsuffixed(len));
    let arena_i16_field = arena_i16_len.as_ref().map(|_| {
        quote! {
            /// int16 tensors, in an arena of their own.
            arena_i16: Align16<[i16; ARENA_I16_LEN]>,
        }
    });
    let arena_i16_init = arena_i16_len
        .as_ref()
        .map(|_| quote!(arena_i16: Align16([0; ARENA_I16_LEN]),));
    // With an int16 arena, ARENA_BYTES counts both and the int8 one gets a length of its own.
    let (arena_i8_len, arena_lens) = match &arena_i16_len {
        None => (format_ident!("ARENA_BYTES"), None),
        Some(i16_len) => {
            let i8_len = Literal::usize_unsuffixed(
                plan.arenas
                    .iter()
                    .find(|(t, _)| *t == QType::I8)
                    .map_or(0, |&(_, len)| len),
            );
            (
                format_ident!("ARENA_I8_LEN"),
                Some(quote! {
                    /// Elements of the int8 arena.
                    const ARENA_I8_LEN: usize = #i8_len;
                    /// Elements of the int16 arena.
                    const ARENA_I16_LEN: usize = #i16_len;
                }),
            )
        }
    };
    let arena_i16_binding =
        uses_arena(QType::I16).then(|| quote!(let arena_i16 = &mut self.arena_i16.0;));
    let runtime: syn::File =
        syn::parse_str(crate::quant::runtime::SOURCE).map_err(|e| Error::InvalidRust {
            what: "templates/runtime.rs".into(),
            message: e.to_string(),
            snippet: String::new(),
        })?;
    let arena_helpers: syn::File = syn::parse2(
        [QType::I8, QType::I16]
            .into_iter()
            .map(arena_helpers)
            .collect::<TokenStream>(),
    )
    .map_err(|e| Error::InvalidRust {
        what: "arena helpers".into(),
        message: e.to_string(),
        snippet: String::new(),
    })?;
    let mut callers: Vec<TokenStream> = layers
        .iter()
        .map(|l| l.function.to_token_stream())
        .collect();
    callers.extend(calls.iter().cloned());
    // predict quantizes the inputs.
    callers.extend(quantizers.iter().map(|q| quote!(#q(x, scale))));
    let mut helpers = arena_helpers.items;
    helpers.extend(runtime.items);
    let mut runtime = used_helpers(helpers, &callers);
    // The helpers' rounding mode (templates/runtime.rs).
    let half_up = graph.rounding == crate::quant::Rounding::HalfUp;
    let mode_doc = format!(
        " How the helpers break ties: {}.",
        if half_up {
            "toward +infinity (`--rounding half-up`, ESP-DL's ESP32-S3 rounding)"
        } else {
            "to even (ONNX Runtime's rounding)"
        }
    );
    runtime.insert(
        0,
        syn::parse_quote! {
            #[doc = #mode_doc]
            const ROUND_HALF_UP: bool = #half_up;
        },
    );

    let predict_doc = format!(
        " Quantizes (`{}(x * 2^-e)`, saturated), runs, and dequantizes (`q * 2^e`).",
        if half_up {
            "round_half_up"
        } else {
            "round_half_even"
        }
    );

    let tokens = quote! {
        #constants

        /// Bytes of working memory inside [`Model`].
        pub const ARENA_BYTES: usize = #arena_bytes;

        #arena_lens

        #arena_section

        /// Aligns weights and the arena to 16 bytes, as the ESP32-S3's vector loads need.
        #[repr(C, align(16))]
        struct Align16<T>(T);

        /// The model with its working memory; it never allocates.
        pub struct Model {
            arena: Align16<[i8; #arena_i8_len]>,
            #arena_i16_field
        }

        impl Default for Model {
            fn default() -> Self {
                Self::new()
            }
        }

        impl Model {
            /// A model ready to run; `const`, so it can live in a `static`.
            pub const fn new() -> Self {
                Model { arena: Align16([0; #arena_i8_len]), #arena_i16_init }
            }

            #[doc = #run_doc]
            pub fn run(&mut self, #(#input_params,)* #(#output_params,)*) {
                // Every window below was checked against ARENA_BYTES at codegen, so `None`
                // never happens: the Option only keeps panicking paths out of the code.
                let _ = self.run_layers(#(#input_names,)* #(#output_names,)*);
            }

            #[doc = #predict_doc]
            pub fn predict(&mut self, #(#float_inputs,)* #(#float_outputs,)*) {
                #(
                    let mut #quantized_in = [#input_zeros; #in_lens];
                    for (q, x) in #quantized_in.iter_mut().zip(#input_names.iter()) {
                        *q = #quantizers(*x, #in_scales);
                    }
                )*
                #( let mut #quantized_out = [#output_zeros; #out_lens]; )*
                self.run(#(&#quantized_in,)* #(&mut #quantized_out,)*);
                #(
                    for (y, q) in #output_names.iter_mut().zip(#quantized_out.iter()) {
                        *y = *q as f32 * #out_scales;
                    }
                )*
            }

            fn run_layers(&mut self, #(#input_params,)* #(#output_params,)*) -> Option<()> {
                #arena_binding
                #arena_i16_binding
                #(#calls)*
                Some(())
            }
        }

        #(#runtime)*

        #(#functions)*
    };
    syn::parse2(tokens).map_err(|e| Error::InvalidRust {
        what: "the module skeleton".into(),
        message: e.to_string(),
        snippet: String::new(),
    })
}

/// Checks a link section name for the arena: it becomes a string literal in an attribute, so
/// it must be non-empty printable ASCII without quotes, backslashes or white space.
pub fn check_link_section(section: &str) -> Result<()> {
    let bad = section
        .chars()
        .find(|&c| !c.is_ascii_graphic() || c == '"' || c == '\\');
    if section.is_empty() || bad.is_some() {
        return Err(Error::LinkSection {
            section: section.escape_debug().to_string(),
            message: match bad {
                Some(c) => format!("{:?} is not allowed (printable ASCII only, no quotes, backslashes or white space)", c),
                None => "the name is empty".into(),
            },
        });
    }
    Ok(())
}

/// `ARENA_LINK_SECTION` and the `in_arena_section!` macro. The arena is a field of `Model`,
/// and a field cannot have its own section, so the firmware's `Model` static goes there whole.
/// The attribute cannot be on an item of this module: `#[link_section]` counts as unsafe code
/// and the module must compile under `#![forbid(unsafe_code)]`; the macro carries it to the
/// firmware's static instead, where the firmware's crate decides whether it allows it.
fn arena_section_items(section: &str) -> Result<TokenStream> {
    check_link_section(section)?;
    let doc_const = format!(
        " The link section `{section}` the arena is meant for (`--arena-section`): put the \
         firmware's `Model` static there with [`in_arena_section!`]."
    );
    Ok(quote! {
        #[doc = #doc_const]
        pub const ARENA_LINK_SECTION: &str = #section;

        /// Declares a static in [`ARENA_LINK_SECTION`], e.g. the firmware's `Model`:
        /// `model::in_arena_section! { static MODEL: Mutex<RefCell<model::Model>> =
        /// Mutex::new(RefCell::new(model::Model::new())); }`. `Model::new()` is all zeros, so a
        /// zero-initialised (`.bss`-like) section suits it. Expands to `#[link_section]`,
        /// which a crate with `#![forbid(unsafe_code)]` rejects: invoke it from one that
        /// allows it.
        #[allow(unused_macros)]
        macro_rules! in_arena_section {
            ($(#[$meta:meta])* $vis:vis static $name:ident: $ty:ty = $init:expr;) => {
                $(#[$meta])*
                #[unsafe(link_section = #section)]
                $vis static $name: $ty = $init;
            };
        }
        #[allow(unused_imports)]
        pub(crate) use in_arena_section;
    })
}

/// The helpers that the generated code calls, directly or through another helper; the rest
/// are left out so that no module carries dead code.
fn used_helpers(helpers: Vec<syn::Item>, callers: &[TokenStream]) -> Vec<syn::Item> {
    let name = |item: &syn::Item| match item {
        syn::Item::Fn(f) => f.sig.ident.to_string(),
        _ => String::new(),
    };
    let mut text: String = callers.iter().map(|c| c.to_string()).collect();
    let mut used = vec![false; helpers.len()];
    // Helpers call each other, so repeat until nothing new is found.
    loop {
        let mut grew = false;
        for (i, item) in helpers.iter().enumerate() {
            let name = name(item);
            if !used[i] && calls(&text, &name) {
                used[i] = true;
                grew = true;
                text.push_str(&item.to_token_stream().to_string());
            }
        }
        if !grew {
            break;
        }
    }
    helpers
        .into_iter()
        .zip(used)
        .filter_map(|(item, used)| used.then_some(item))
        .collect()
}

/// Whether printed tokens call function `name`: token streams print a call as `name (` and a
/// generic call as `name ::`, and the name must not be the tail of a longer identifier
/// (`requantize_i8 (` does not call `quantize_i8`).
fn calls(text: &str, name: &str) -> bool {
    [format!("{name} ("), format!("{name} ::")]
        .iter()
        .any(|call| {
            text.match_indices(call.as_str()).any(|(at, _)| {
                !text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_')
            })
        })
}

/// The statement in `run_layers` that calls one layer with its buffers.
fn layer_call(
    graph: &QGraph,
    plan: &Plan,
    step: usize,
    rendered: &RenderedLayer,
    inputs: &[PortItems],
    outputs: &[PortItems],
) -> Result<TokenStream> {
    let layer = &graph.layers[step];
    let function = Ident::new(&rendered.fn_name, Span::call_site());
    let out_len = graph.tensors[layer.output].len();
    let out_len_literal = Literal::usize_unsuffixed(out_len);
    // In place, the input and the output are one window of the arena.
    if let (true, Storage::Arena { offset, dtype }) =
        (plan.in_place[step], plan.storage[layer.output])
    {
        let (_, split) = arena_helper_names(dtype);
        let (arena, offset) = (arena_var(dtype), Literal::usize_unsuffixed(offset));
        return Ok(quote! {
            {
                let (_, data, _) = #split::<#offset, #out_len_literal>(#arena)?;
                #function(data);
            }
        });
    }
    // An input in the caller's buffers, or a window of an arena. `split` is the output's
    // arena when that one is split around the output (its other tensors are then read from
    // the parts below and above).
    let read = |tensor: usize, split: Option<(QType, usize)>| -> TokenStream {
        let len = graph.tensors[tensor].len();
        let len_literal = Literal::usize_unsuffixed(len);
        match plan.storage[tensor] {
            Storage::Input(n) => {
                let p = &inputs[n].param;
                quote!(#p)
            }
            Storage::Output(n) => {
                let p = &outputs[n].param;
                quote!(&*#p)
            }
            Storage::Arena { offset, dtype } => {
                let (window, _) = arena_helper_names(dtype);
                match split {
                    Some((split_type, out)) if split_type == dtype => {
                        if offset + len <= out {
                            let offset = Literal::usize_unsuffixed(offset);
                            quote!(#window::<#offset, #len_literal>(below)?)
                        } else {
                            let offset = Literal::usize_unsuffixed(offset - (out + out_len));
                            quote!(#window::<#offset, #len_literal>(above)?)
                        }
                    }
                    _ => {
                        let (arena, offset) = (arena_var(dtype), Literal::usize_unsuffixed(offset));
                        quote!(#window::<#offset, #len_literal>(&#arena[..])?)
                    }
                }
            }
        }
    };
    let tokens = match plan.storage[layer.output] {
        Storage::Arena { offset: out, dtype } => {
            let args: Vec<TokenStream> = layer
                .inputs
                .iter()
                .map(|&t| read(t, Some((dtype, out))))
                .collect();
            let (mut uses_below, mut uses_above) = (false, false);
            for &t in &layer.inputs {
                if let Storage::Arena { offset, dtype: d } = plan.storage[t] {
                    uses_below |= d == dtype && offset < out;
                    uses_above |= d == dtype && offset > out;
                }
            }
            let (_, split) = arena_helper_names(dtype);
            let arena = arena_var(dtype);
            let out = Literal::usize_unsuffixed(out);
            let below = if uses_below { quote!(below) } else { quote!(_) };
            let above = if uses_above { quote!(above) } else { quote!(_) };
            quote! {
                {
                    let (#below, output, #above) = #split::<#out, #out_len_literal>(#arena)?;
                    #function(#(#args,)* output);
                }
            }
        }
        Storage::Output(n) => {
            let p = &outputs[n].param;
            let args: Vec<TokenStream> = layer.inputs.iter().map(|&t| read(t, None)).collect();
            quote!(#function(#(#args,)* #p);)
        }
        Storage::Input(_) => {
            return Err(Error::Model(format!(
                "internal: layer '{}' would write into a model input",
                layer.node.name
            )))
        }
    };
    Ok(tokens)
}

/// `static NAME: Align16<[[T; inner]; outer]> = Align16([...]);`, formatted here rather than
/// by prettyplease, which would put every value on a line of its own. Innermost arrays wrap
/// at 100 columns; the declaration is checked by parsing it.
pub fn static_item(array: &StaticArray) -> Result<String> {
    let mut text = static_declaration(array, "")?;
    nested(&mut text, &array.values, &array.dims, 0);
    text.push_str(");\n");
    Ok(text)
}

/// The same static filled from the weights file at byte `offset` (see `weights_file`).
pub fn file_static_item(array: &StaticArray, file: &WeightsFile, offset: usize) -> Result<String> {
    let source = format!(", from {} at byte {offset}", comment_safe(&file.name));
    let mut text = static_declaration(array, &source)?;
    text.push_str(&WeightsFile::initializer(array, offset));
    text.push_str(");\n");
    Ok(text)
}

/// A static's doc line (`source` says where its values come from) and its declaration up to
/// the value: `static NAME: Align16<[[T; inner]; outer]> = Align16(`.
fn static_declaration(array: &StaticArray, source: &str) -> Result<String> {
    let mut ty = array.elem.rust().to_string();
    for &d in array.dims.iter().rev() {
        ty = format!("[{ty}; {d}]");
    }
    let text = format!(
        "/// {} values, {} bytes{source}.\nstatic {}: Align16<{ty}> = Align16(",
        array.values.len(),
        array.bytes(),
        array.name
    );
    // The declaration is checked by parsing it with an empty array: the values are integers
    // formatted by the caller, and parsing hundreds of thousands of them would dominate
    // codegen time.
    let declaration = format!("{text}[]);");
    syn::parse_str::<syn::ItemStatic>(&declaration).map_err(|e| Error::InvalidRust {
        what: format!("static {}", array.name),
        message: e.to_string(),
        snippet: declaration.chars().take(200).collect(),
    })?;
    Ok(text)
}

fn nested(text: &mut String, values: &[i64], dims: &[usize], depth: usize) {
    const WIDTH: usize = 100;
    let indent = "    ".repeat(depth + 1);
    match dims.split_first() {
        None | Some((_, [])) => {
            let items: Vec<String> = values.iter().map(i64::to_string).collect();
            let flat = format!("[{}]", items.join(", "));
            if flat.len() + indent.len() <= WIDTH {
                text.push_str(&flat);
                return;
            }
            text.push_str("[\n");
            let mut line = String::new();
            for item in items {
                if !line.is_empty() && indent.len() + line.len() + item.len() + 2 > WIDTH {
                    text.push_str(&format!("{indent}{}\n", line.trim_end()));
                    line.clear();
                }
                line.push_str(&item);
                line.push_str(", ");
            }
            if !line.is_empty() {
                text.push_str(&format!("{indent}{}\n", line.trim_end()));
            }
            text.push_str(&"    ".repeat(depth));
            text.push(']');
        }
        Some((_, inner)) => {
            let stride: usize = inner.iter().product();
            text.push_str("[\n");
            for chunk in values.chunks(stride.max(1)) {
                text.push_str(&indent);
                nested(text, chunk, inner, depth + 1);
                text.push_str(",\n");
            }
            text.push_str(&"    ".repeat(depth));
            text.push(']');
        }
    }
}

/// Doc comment attributes of a layer function.
pub fn layer_doc(
    graph: &QGraph,
    layer: &Layer,
    index: usize,
    description: &str,
    in_place: bool,
) -> Vec<syn::Attribute> {
    let shape = |t: usize| {
        let tensor = &graph.tensors[t];
        format!("{:?} at 2^{}", tensor.shape, tensor.exponent)
    };
    let inputs: Vec<String> = layer.inputs.iter().map(|&t| shape(t)).collect();
    let mut lines = vec![
        format!(
            " Layer {index}: `{}` from node `{}`.",
            layer.ops,
            comment_safe(&layer.node.name)
        ),
        format!(" {} -> {}.", inputs.join(" and "), shape(layer.output)),
        format!(" {}.", comment_safe(description)),
    ];
    if in_place {
        lines.push(" In place: `data` holds the input on entry and the output on return.".into());
    }
    lines
        .iter()
        .map(|line| syn::parse_quote!(#[doc = #line]))
        .collect()
}

fn rust_type(dtype: QType) -> Ident {
    format_ident!("{}", dtype.rust())
}

/// `0i8` or `0i16`.
fn zero(dtype: QType) -> Literal {
    match dtype {
        QType::I8 => Literal::i8_suffixed(0),
        QType::I16 => Literal::i16_suffixed(0),
    }
}

/// `int8`, or `int8/int16` for ports of both types.
fn type_names(types: &[QType]) -> String {
    let mut names: Vec<&str> = types.iter().map(|t| t.name()).collect();
    names.sort();
    names.dedup();
    names.join("/")
}

/// The arena helpers for one element type: `window`/`split_arena` for int8 (their names
/// predate int16), `window_i16`/`split_arena_i16` for int16. Only the used ones are emitted.
fn arena_helpers(dtype: QType) -> TokenStream {
    let (window, split) = arena_helper_names(dtype);
    let ty = rust_type(dtype);
    quote! {
        /// A read-only window of an arena.
        #[inline(always)]
        fn #window<const OFFSET: usize, const LEN: usize>(elements: &[#ty]) -> Option<&[#ty; LEN]> {
            elements.get(OFFSET..)?.first_chunk::<LEN>()
        }

        /// Splits an arena into the elements below a layer's output, the output, and the rest.
        #[inline(always)]
        fn #split<const OFFSET: usize, const LEN: usize>(
            elements: &mut [#ty],
        ) -> Option<(&[#ty], &mut [#ty; LEN], &[#ty])> {
            let (below, rest) = elements.split_at_mut_checked(OFFSET)?;
            let (output, above) = rest.split_first_chunk_mut::<LEN>()?;
            Some((below, output, above))
        }
    }
}

fn arena_helper_names(dtype: QType) -> (Ident, Ident) {
    match dtype {
        QType::I8 => (format_ident!("window"), format_ident!("split_arena")),
        QType::I16 => (
            format_ident!("window_i16"),
            format_ident!("split_arena_i16"),
        ),
    }
}

/// The local variable holding an arena inside `run_layers`.
fn arena_var(dtype: QType) -> Ident {
    match dtype {
        QType::I8 => format_ident!("arena"),
        QType::I16 => format_ident!("arena_i16"),
    }
}
