//! The model's inputs and outputs: the names of their items, and their length, shape,
//! exponent and scale constants.

use crate::ir::{Port, QGraph};
use crate::text::{comment_safe, rust_ident};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// Names of the items of one model input or output.
pub(super) struct PortItems {
    pub(super) param: Ident,
    pub(super) len: Ident,
    pub(super) shape: Ident,
    pub(super) exponent: Ident,
    /// `2^-e` (inputs) or `2^e` (outputs), as f32.
    pub(super) scale: Ident,
}

pub(super) fn port_items(kind: &str, ports: &[Port], index: usize) -> PortItems {
    let upper = kind.to_uppercase();
    let (param, prefix) = if ports.len() == 1 {
        (kind.to_string(), upper)
    } else {
        // Several ports: items are named after the tensor (sanitised, and numbered when two
        // names sanitise alike).
        let mut name = rust_ident(&ports[index].name);
        if ports
            .iter()
            .enumerate()
            .any(|(i, p)| i != index && rust_ident(&p.name) == name)
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

/// `INPUT_LEN`, `INPUT_SHAPE`, `INPUT_EXPONENT` and the scale `predict` uses, for every input
/// and output.
pub(super) fn port_constants(
    graph: &QGraph,
    inputs: &[PortItems],
    outputs: &[PortItems],
) -> TokenStream {
    let mut constants = TokenStream::new();
    for (kind, ports, items) in [
        ("input", &graph.inputs, inputs),
        ("output", &graph.outputs, outputs),
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
    constants
}
