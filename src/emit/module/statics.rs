//! The weight statics, formatted by hand: inline array literals or reads from the weights
//! file.

use crate::emit::weights_file::WeightsFile;
use crate::error::{Error, Result};
use crate::kernel::StaticArray;
use crate::text::comment_safe;

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
