//! Keeps the plain `//` comments of templates in the generated code. syn and prettyplease
//! keep only doc comments, so before parsing, every comment line that precedes a statement
//! or an item becomes a doc attribute carrying a marker ([`mark`]); after formatting, those
//! lines become plain comments again ([`restore`]). A comment with nothing after it in its
//! block (before a `}`) has nothing to attach to and is left out.

/// The start of a marked comment's doc text.
const MARKER: &str = "onnx2esp-comment:";

/// `source` with each own-line `// text` (not `///` or `//!`) that precedes code turned into
/// `#[doc = "onnx2esp-comment:text"]`. Lines inside a multi-line string literal are not
/// touched: a template that writes one keeps its comments out of it.
pub fn mark(source: &str) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let mut out = String::with_capacity(source.len() + source.len() / 8);
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let plain_comment =
            body.starts_with("//") && !body.starts_with("///") && !body.starts_with("//!");
        if plain_comment && precedes_code(&lines[i + 1..]) {
            let indent = &line[..line.len() - body.len()];
            let text = &body[2..];
            out.push_str(&format!(
                "{indent}#[doc = {:?}]\n",
                format!("{MARKER}{text}")
            ));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Whether the first line after a comment (skipping blank lines and further comments) starts
/// a statement or an item rather than closing a block, a list or an expression.
fn precedes_code(rest: &[&str]) -> bool {
    rest.iter()
        .map(|l| l.trim_start())
        .find(|l| !l.is_empty() && !l.starts_with("//"))
        .is_some_and(|next| {
            !next.starts_with([
                '}', ')', ']', '.', ',', '?', '|', '&', '+', '-', '*', '/', '=',
            ]) && !next.starts_with("else")
        })
}

/// The formatted code with every marked doc line (`///onnx2esp-comment:text`, or the
/// attribute form prettyplease prints in some positions) back as `//text`.
pub fn restore(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    for line in code.lines() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        if let Some(text) = body
            .strip_prefix("///")
            .and_then(|b| b.strip_prefix(MARKER))
        {
            out.push_str(&format!("{indent}//{text}\n"));
        } else if let Some(text) = attribute_text(body) {
            out.push_str(&format!("{indent}//{text}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The comment text of a line `#[doc = "onnx2esp-comment:text"]`, unescaped.
fn attribute_text(line: &str) -> Option<String> {
    let literal = line.strip_prefix("#[doc = ")?.strip_suffix(']')?;
    let value = syn::parse_str::<syn::LitStr>(literal).ok()?.value();
    value.strip_prefix(MARKER).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(source: &str) -> String {
        let function: syn::ItemFn = syn::parse_str(&mark(source)).expect("parses");
        let file = syn::File {
            shebang: None,
            attrs: vec![],
            items: vec![syn::Item::Fn(function)],
        };
        restore(&prettyplease::unparse(&file))
    }

    #[test]
    fn comments_before_statements_and_items_survive_formatting() {
        let code = round_trip(
            "fn f(x: i32) -> i32 {\n    // Why the table: \"quoted\" \\ text.\n    const T: [i8; 2] = [1, 2];\n    // Two lines,\n    // one block.\n    let y = x + 1;\n    for i in 0..2 {\n        // Inside a loop.\n        let _ = i;\n    }\n    // Before the tail.\n    y\n}\n",
        );
        assert_eq!(
            code,
            "fn f(x: i32) -> i32 {\n    // Why the table: \"quoted\" \\ text.\n    const T: [i8; 2] = [1, 2];\n    // Two lines,\n    // one block.\n    let y = x + 1;\n    for i in 0..2 {\n        // Inside a loop.\n        let _ = i;\n    }\n    // Before the tail.\n    y\n}\n"
        );
    }

    #[test]
    fn a_comment_closing_a_block_is_left_out_and_doc_comments_are_kept() {
        let source = "/// A doc line.\nfn f() {\n    let a = 1;\n    // Nothing after me.\n}\n";
        let code = round_trip(source);
        assert!(code.contains("/// A doc line."), "{code}");
        assert!(!code.contains("Nothing after me"), "{code}");
    }
}
