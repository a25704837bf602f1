//! Emission: renders every layer from its template, assembles the module skeleton with quote,
//! then formats it with prettyplease behind a plain-text header.

mod comments;
mod context;
mod header;
mod module;
mod simplify;
mod templates;
mod weights_file;

pub use module::check_link_section;
pub use templates::{builtin_templates, Templates};
pub use weights_file::{SideFile, WeightsFile};

use crate::error::{Error, Result};
use crate::ir::{QGraph, QType};
use crate::kernel::{KernelEmit, Renderer, StaticArray};
use crate::onnx::Graph;
use crate::options::KernelProfile;
use crate::plan::Plan;
use crate::text::rust_ident;

/// One rendered layer.
pub struct RenderedLayer {
    pub fn_name: String,
    pub function: syn::ItemFn,
    pub statics: Vec<StaticArray>,
    pub description: String,
}

/// A rendered module and the figures the memory budgets are checked against.
pub struct Emitted {
    pub code: String,
    pub arena_bytes: usize,
    pub weight_bytes: usize,
    /// The weights file the module reads, when some static went there.
    pub weights_file: Option<WeightsFile>,
}

/// The choices that shape a module beyond its model.
pub struct EmitSettings<'a> {
    /// The link section the firmware's `Model` static may be put in (`in_arena_section!`).
    pub arena_link_section: Option<&'a str>,
    /// The kernels' register tiles and weight layout.
    pub profile: KernelProfile,
    /// With a side file, the statics of at least its threshold go there instead of being
    /// array literals.
    pub side_file: Option<SideFile<'a>>,
    /// The command line that regenerates the module, for its header.
    pub regenerate: &'a str,
    /// The most bytes of layer code the module may take (`--max-code`).
    pub max_code: usize,
    /// Samples for `Model::self_test`, when the module gets one.
    pub self_test: Option<&'a SelfTestSamples>,
}

/// The samples `Model::self_test` runs: int8 inputs and the reference's int8 outputs.
pub struct SelfTestSamples {
    pub inputs: Vec<Vec<i64>>,
    pub outputs: Vec<Vec<i64>>,
}

/// Renders the whole module as formatted Rust source.
pub fn emit(
    graph: &Graph,
    qgraph: &QGraph,
    plan: &Plan,
    templates: &Templates,
    settings: EmitSettings,
) -> Result<Emitted> {
    let EmitSettings {
        arena_link_section,
        profile,
        side_file,
        regenerate,
        max_code,
        self_test,
    } = settings;
    let mut layers = Vec::with_capacity(qgraph.layers.len());
    // The layers' code so far (weight statics aside), checked against `max_code` as it
    // grows: each function is held as a syntax tree, about a hundred times its text, so a
    // model of thousands of layers must stop before it takes gigabytes.
    let mut code_bytes = 0usize;
    for (index, layer) in qgraph.layers.iter().enumerate() {
        let (fn_name, out) = layer_emit(qgraph, plan, index, profile)?;
        let in_place = plan.in_place[index];
        let mut function = templates.render(&layer.renderer, out.context(), &layer.node.name)?;
        simplify::simplify(&mut function);
        code_bytes = code_bytes.saturating_add(
            quote::ToTokens::to_token_stream(&function)
                .to_string()
                .len(),
        );
        if code_bytes > max_code {
            return Err(Error::node(
                &layer.node,
                format!(
                    "with this layer the layer functions take {code_bytes} bytes of code, over the limit of {max_code}; raise it with --max-code if that is intended"
                ),
            ));
        }
        let doc = module::layer_doc(qgraph, layer, index, &out.description, in_place);
        function.attrs.splice(0..0, doc);
        layers.push(RenderedLayer {
            fn_name,
            function,
            statics: out.statics,
            description: out.description,
        });
    }
    let file = module::assemble(
        qgraph,
        plan,
        &layers,
        arena_link_section,
        self_test.is_some(),
    )?;
    let statics: Vec<&StaticArray> = layers.iter().flat_map(|l| &l.statics).collect();
    let weights_file = match side_file {
        Some(side) => WeightsFile::layout(side, &statics)?,
        None => None,
    };
    let placement = weights_file
        .as_ref()
        .map_or(String::new(), WeightsFile::header_lines);
    let mut code = header::header(graph, qgraph, plan, &layers, &placement, regenerate);
    code.push_str(&separate_items(&compact_number_lists(&comments::restore(
        &prettyplease::unparse(&file),
    ))));
    code.push_str("\n// Weights and biases.\n");
    if let Some(file) = &weights_file {
        code.push('\n');
        code.push_str(&file.reader_items()?);
    }
    let mut weight_bytes = 0;
    for array in statics {
        code.push('\n');
        let placed = weights_file
            .as_ref()
            .and_then(|f| Some((f, f.offset_of(&array.name)?)));
        code.push_str(&match placed {
            Some((file, offset)) => module::file_static_item(array, file, offset)?,
            None => module::static_item(array)?,
        });
        weight_bytes += array.bytes();
    }
    if let Some(samples) = self_test {
        code.push_str("\n// Samples for Model::self_test.\n");
        for array in module::self_test_statics(samples) {
            code.push('\n');
            code.push_str(&module::static_item(&array)?);
        }
    }
    Ok(Emitted {
        code,
        arena_bytes: plan.arena_bytes,
        weight_bytes,
        weights_file,
    })
}

/// The function name and the filled template context of layer `index`.
fn layer_emit(
    qgraph: &QGraph,
    plan: &Plan,
    index: usize,
    profile: KernelProfile,
) -> Result<(String, KernelEmit)> {
    let layer = &qgraph.layers[index];
    let fn_name = format!("{}_{index}", rust_ident(&layer.ops.replace('+', "_")));
    let buffer = |t: usize| (qgraph.tensors[t].len(), qgraph.tensors[t].dtype);
    let inputs: Vec<(usize, QType)> = layer.inputs.iter().map(|&t| buffer(t)).collect();
    let mut out = KernelEmit::new(
        &fn_name,
        &inputs,
        buffer(layer.output),
        plan.in_place[index],
        layer.kernel.state().map(|s| (s.len(), s.writes())),
    );
    // A user template overriding a built-in kernel reads the weights as documented for it,
    // one int8 row per output: the offset layout is the built-in templates' own.
    let profile = KernelProfile {
        offset_weights: profile.offset_weights && matches!(layer.renderer, Renderer::Builtin(_)),
        ..profile
    };
    context::set_layer_context(qgraph, layer, profile, &mut out);
    layer.kernel.emit(&mut out)?;
    Ok((fn_name, out))
}

/// The template context of the layer whose node (the first of a fused chain) or function is
/// named `node`, as the template receives it, in JSON; `None` when no layer has that name.
pub fn layer_context(
    qgraph: &QGraph,
    plan: &Plan,
    profile: KernelProfile,
    node: &str,
) -> Result<Option<serde_json::Value>> {
    for (index, layer) in qgraph.layers.iter().enumerate() {
        let (fn_name, out) = layer_emit(qgraph, plan, index, profile)?;
        if layer.node.name == node || fn_name == node {
            return Ok(Some(out.context().clone().into_json()));
        }
    }
    Ok(None)
}

/// Packs the one-number-per-line arrays that prettyplease prints (lookup tables inside
/// templates) into rows of up to 100 columns.
fn compact_number_lists(code: &str) -> String {
    fn number_item(line: &str) -> Option<(usize, &str)> {
        let body = line.trim_start();
        let number = body.strip_suffix(',')?;
        let digits = number.strip_prefix('-').unwrap_or(number);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| (line.len() - body.len(), body))
    }
    let mut out = String::with_capacity(code.len());
    let lines: Vec<&str> = code.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let Some((indent, _)) = number_item(lines[i]) else {
            out.push_str(lines[i]);
            out.push('\n');
            i += 1;
            continue;
        };
        let mut row = String::new();
        while let Some((item_indent, item)) = lines.get(i).and_then(|l| number_item(l)) {
            if item_indent != indent {
                break;
            }
            if !row.is_empty() && indent + row.len() + 1 + item.len() > 100 {
                out.push_str(&format!("{}{row}\n", " ".repeat(indent)));
                row.clear();
            }
            if !row.is_empty() {
                row.push(' ');
            }
            row.push_str(item);
            i += 1;
        }
        out.push_str(&format!("{}{row}\n", " ".repeat(indent)));
    }
    out
}

/// Puts a blank line between top-level items, which prettyplease packs together.
fn separate_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 20);
    let mut previous_closed_item = false;
    for line in code.lines() {
        let starts_item = !line.starts_with([' ', '}', ')', ']']) && !line.is_empty();
        if previous_closed_item && starts_item {
            out.push('\n');
        }
        // A comment line ending in ';' does not end an item.
        previous_closed_item = line == "}"
            || (!line.starts_with(' ') && !line.starts_with("//") && line.ends_with(';'));
        out.push_str(line);
        out.push('\n');
    }
    out
}
