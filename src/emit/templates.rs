//! Kernel templates: the built-in ones under `templates/` (compiled into the binary, so the
//! tool works from any directory and in build.rs) and a user directory that adds custom
//! layers and overrides built-ins. A node with domain `D` and op type `T` uses `DIR/D/T.rs.tera`,
//! or `DIR/T.rs.tera` in the default domain.

use crate::error::error_chain;
use crate::error::{Error, Result};
use crate::kernel::{BuiltinTemplate, Renderer, UserTemplate, UserTemplates, APPLIES_CLAMP};
use crate::quant::table::expression_table;
use crate::quant::Rounding;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// (file name, source) of every built-in template under `templates/`.
pub fn builtin_templates() -> impl Iterator<Item = (&'static str, &'static str)> {
    BuiltinTemplate::ALL
        .iter()
        .map(|t| (t.file_name(), t.source()))
}

/// Prefix of user template names inside tera, so they never collide with built-ins.
const USER: &str = "user:";

pub struct Templates {
    tera: tera::Tera,
    /// tera name → source of every template, for mapping errors back to template lines.
    sources: BTreeMap<String, String>,
    user: UserTemplates,
}

impl Templates {
    /// The built-in templates plus, when given, every `*.rs.tera` in `user_dir` (default
    /// domain) and in its subdirectories (named after their domain).
    /// The built-in templates and those of `user_dir`; the `table` helper rounds with `rounding`.
    pub fn new(user_dir: Option<&Path>, rounding: Rounding) -> Result<Templates> {
        let mut tera = tera::Tera::default();
        // Generated Rust is not HTML.
        tera.autoescape_on(vec![]);
        tera.add_raw_templates(builtin_templates())
            .map_err(|e| template_error("built-in templates", &e))?;
        register_helpers(&mut tera, rounding);
        let mut templates = Templates {
            tera,
            sources: builtin_templates()
                .map(|(name, source)| (name.to_string(), source.to_string()))
                .collect(),
            user: UserTemplates::new(user_dir),
        };
        if let Some(dir) = user_dir {
            templates.load_user_dir(dir)?;
        }
        Ok(templates)
    }

    fn load_user_dir(&mut self, dir: &Path) -> Result<()> {
        let io = |path: &Path, source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let path = entry.map_err(|e| io(dir, e))?.path();
            if path.is_dir() {
                let domain = path.file_name().map(|d| d.to_string_lossy().into_owned());
                for inner in std::fs::read_dir(&path).map_err(|e| io(&path, e))? {
                    found.push((domain.clone(), inner.map_err(|e| io(&path, e))?.path()));
                }
            } else {
                found.push((None, path));
            }
        }
        // Sorted, so that the result never depends on directory order.
        found.sort();
        for (domain, path) in found {
            let Some(op) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".rs.tera"))
            else {
                continue;
            };
            let source = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
            // Named by its path inside the directory, with `/`: this name reaches the
            // generated code, which must not depend on how the directory was spelled.
            let file = format!("{op}.rs.tera");
            let relative = match &domain {
                Some(domain) => format!("{domain}/{file}"),
                None => file,
            };
            let name = format!("{USER}{relative}");
            let domain = domain.unwrap_or_default();
            let applies_clamp = declares_applies_clamp(&source);
            if applies_clamp
                && !["clamp_lo", "clamp_hi", "clamp"]
                    .iter()
                    .any(|v| source.replace(APPLIES_CLAMP, "").contains(v))
            {
                self.user.add_broken(
                    &domain,
                    op,
                    Error::Template {
                        template: path.display().to_string(),
                        message: format!(
                            "declares `{{# {APPLIES_CLAMP} #}}` but never reads `clamp_lo`, `clamp_hi` or `clamp`"
                        ),
                    },
                );
                continue;
            }
            match self.tera.add_raw_template(&name, &source) {
                Ok(()) => {
                    self.sources.insert(name.clone(), source);
                    self.user.add(
                        &domain,
                        op,
                        UserTemplate {
                            name: relative,
                            applies_clamp,
                        },
                    );
                }
                Err(e) => {
                    self.user.add_broken(
                        &domain,
                        op,
                        template_error(&path.display().to_string(), &e),
                    );
                }
            }
        }
        Ok(())
    }

    /// The user's templates, by the op they implement.
    pub fn user(&self) -> &UserTemplates {
        &self.user
    }

    /// The file a template stands for, for messages: a user template's full path.
    fn display_name(&self, renderer: &Renderer) -> String {
        match (renderer, self.user.dir()) {
            (Renderer::User(relative), Some(dir)) => dir.join(relative).display().to_string(),
            _ => renderer.source_name(),
        }
    }

    /// The template's name inside tera: user templates are prefixed, so that they never
    /// collide with built-ins.
    fn tera_name(renderer: &Renderer) -> String {
        match renderer {
            Renderer::Builtin(template) => template.file_name().to_string(),
            Renderer::User(relative) => format!("{USER}{relative}"),
        }
    }

    /// Renders a layer's template for node `node` and checks that the result is one Rust
    /// function.
    /// Errors point at the template's lines: a tera error at the line of the unknown
    /// variable (with the nearest known name), a Rust syntax error at the template line
    /// that produced the offending text.
    pub fn render(
        &self,
        renderer: &Renderer,
        context: &tera::Context,
        node: &str,
    ) -> Result<syn::ItemFn> {
        let name = Self::tera_name(renderer);
        let template = name.as_str();
        let source = self.tera.render(template, context).map_err(|e| {
            let mut message = format!("rendering node '{node}': {}", error_chain(&e));
            if let Some(hint) = self.unknown_variable_hint(template, context, &e) {
                message.push_str(&hint);
            }
            Error::Template {
                template: self.display_name(renderer),
                message,
            }
        })?;
        // Plain comments ride through syn and prettyplease as marked doc attributes; if the
        // marked text does not parse, the error is reported on the unmarked one.
        if let Ok(function) = syn::parse_str::<syn::ItemFn>(&super::comments::mark(&source)) {
            return Ok(function);
        }
        syn::parse_str::<syn::ItemFn>(&source).map_err(|e| {
            let line = e.span().start().line;
            let snippet = source
                .lines()
                .enumerate()
                .skip(line.saturating_sub(3))
                .take(5)
                .map(|(i, l)| format!("{:>4} | {l}", i + 1))
                .collect::<Vec<_>>()
                .join("\n");
            let origin = self
                .template_line_of_syntax_error(template, context)
                .map_or(String::new(), |l| format!("template line {l}, "));
            Error::InvalidRust {
                what: format!("template {} (node '{node}')", self.display_name(renderer)),
                message: format!("{origin}rendered line {line}: {e}"),
                snippet,
            }
        })
    }

    /// For a tera error about an unknown variable: the template lines that use it and the
    /// nearest name the context has.
    fn unknown_variable_hint(
        &self,
        template: &str,
        context: &tera::Context,
        error: &tera::Error,
    ) -> Option<String> {
        let text = error_chain(error);
        let variable = text
            .split("Variable `")
            .nth(1)?
            .split('`')
            .next()?
            .to_string();
        let source = self.sources.get(template)?;
        let mut hint = String::new();
        let lines = lines_using(source, &variable);
        if !lines.is_empty() {
            let list: Vec<String> = lines.iter().map(usize::to_string).collect();
            hint.push_str(&format!(
                "\n  `{variable}` is used at template line {}",
                list.join(", ")
            ));
        }
        // The nearest name to the first segment the context lacks, among the keys at its
        // depth: `inputs[0].exponant` is compared with the keys of `inputs[0]`, `nod.name`
        // with the top-level names.
        let json = context.clone().into_json();
        let normalised = variable.replace('[', ".").replace(']', "");
        let mut object = &json;
        let mut known: Vec<&str> = Vec::new();
        for part in normalised.split('.') {
            let next = match object {
                tera::Value::Object(map) => map.get(part),
                tera::Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            };
            match next {
                Some(value) => {
                    object = value;
                    known.push(part);
                }
                None => {
                    if let tera::Value::Object(map) = object {
                        let nearest = map
                            .keys()
                            .map(|k| (edit_distance(k, part), k))
                            .filter(|&(d, k)| d > 0 && d <= (k.len().max(part.len()) / 3).max(2))
                            .min();
                        if let Some((_, name)) = nearest {
                            let mut suggestion = String::new();
                            for k in &known {
                                if k.parse::<usize>().is_ok() {
                                    suggestion.push_str(&format!("[{k}]"));
                                } else {
                                    if !suggestion.is_empty() {
                                        suggestion.push('.');
                                    }
                                    suggestion.push_str(k);
                                }
                            }
                            if !suggestion.is_empty() {
                                suggestion.push('.');
                            }
                            suggestion.push_str(name);
                            hint.push_str(&format!(
                                "\n  did you mean `{suggestion}`? (`onnx2esp generate --dump-context NODE` prints every variable)"
                            ));
                        }
                    }
                    break;
                }
            }
        }
        Some(hint)
    }

    /// The line of `template` that produced the first Rust syntax error of its rendering:
    /// the template is rendered once more with a `/*@N*/` marker at the end of every line N
    /// outside tera tags (block comments change nothing for the parser), and the first
    /// marker at or after the error's position names the line.
    fn template_line_of_syntax_error(
        &self,
        template: &str,
        context: &tera::Context,
    ) -> Option<usize> {
        let source = self.sources.get(template)?;
        let mut tera = self.tera.clone();
        tera.add_raw_template(template, &with_line_markers(source))
            .ok()?;
        let rendered = tera.render(template, context).ok()?;
        let error = syn::parse_str::<syn::ItemFn>(&rendered).err()?;
        let start = error.span().start();
        let offset: usize = rendered
            .split_inclusive('\n')
            .take(start.line.saturating_sub(1))
            .map(str::len)
            .sum::<usize>()
            + rendered
                .lines()
                .nth(start.line.saturating_sub(1))?
                .chars()
                .take(start.column)
                .map(char::len_utf8)
                .sum::<usize>();
        let after = &rendered[offset..];
        let at = after.find(LINE_MARKER)? + LINE_MARKER.len();
        after[at..].split("*/").next()?.parse().ok()
    }

    pub fn tera(&self) -> &tera::Tera {
        &self.tera
    }
}

/// Whether a template has the comment `{# onnx2esp: applies_clamp #}` (white space and
/// tera's `-` trim markers allowed).
fn declares_applies_clamp(source: &str) -> bool {
    source.split("{#").skip(1).any(|rest| {
        rest.split_once("#}").is_some_and(|(comment, _)| {
            comment.trim_matches(|c: char| c == '-' || c.is_whitespace()) == APPLIES_CLAMP
        })
    })
}

/// The Levenshtein distance between two names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

const LINE_MARKER: &str = "/*@";

/// `source` with `/*@N*/` before the line break ending each line N that ends outside a
/// tera tag, comment or raw block.
fn with_line_markers(source: &str) -> String {
    let mut out = String::with_capacity(source.len() * 2);
    let mut inside: Option<&str> = None;
    let mut raw = false;
    let mut line = 1;
    let mut rest = source;
    while let Some(c) = rest.chars().next() {
        match inside {
            None if rest.starts_with("{%")
                && rest[2..]
                    .trim_start_matches('-')
                    .trim_start()
                    .starts_with("raw") =>
            {
                raw = true;
                inside = Some("%}");
            }
            None if rest.starts_with("{%")
                && rest[2..]
                    .trim_start_matches('-')
                    .trim_start()
                    .starts_with("endraw") =>
            {
                raw = false;
                inside = Some("%}");
            }
            None if !raw && rest.starts_with("{{") => inside = Some("}}"),
            None if !raw && rest.starts_with("{%") => inside = Some("%}"),
            None if !raw && rest.starts_with("{#") => inside = Some("#}"),
            Some(end) if rest.starts_with(end) => {
                out.push_str(end);
                rest = &rest[end.len()..];
                inside = None;
                continue;
            }
            _ => {}
        }
        if c == '\n' {
            if inside.is_none() && !raw {
                out.push_str(&format!("{LINE_MARKER}{line}*/"));
            }
            line += 1;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The lines of `source` whose tera tags mention `variable` (its first path segment).
fn lines_using(source: &str, variable: &str) -> Vec<usize> {
    let head = variable.split(['.', '[']).next().unwrap_or(variable);
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    source
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            line.match_indices(head).any(|(at, _)| {
                let before = line[..at].chars().next_back();
                let after = line[at + head.len()..].chars().next();
                !before.is_some_and(is_ident)
                    && !after.is_some_and(is_ident)
                    && (line.contains("{{") || line.contains("{%"))
            })
        })
        .map(|(i, _)| i + 1)
        .collect()
}

fn template_error(template: &str, e: &tera::Error) -> Error {
    Error::Template {
        template: template.to_string(),
        message: error_chain(e),
    }
}

/// Helpers for templates, each returning Rust source text:
/// - `requantize(value="acc", shift=7)`: the requantization of docs/numerics.md with the module's
///   rounding mode (half to even unless generated with half-up), saturated to int8;
/// - `saturate(value="v")`: saturation of an i64 expression to int8;
/// - `table(expr="x / (1 + exp(-beta * x))", input_exponent=-5, output_exponent=-5, beta=1.5)`:
///   a 256-entry int8 table `T[q + 128]`, as an array literal; extra arguments are variables.
fn register_helpers(tera: &mut tera::Tera, rounding: Rounding) {
    fn string(args: &HashMap<String, tera::Value>, key: &str) -> tera::Result<String> {
        match args.get(key) {
            Some(tera::Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(tera::Error::msg(format!("missing argument `{key}`"))),
        }
    }
    fn int(args: &HashMap<String, tera::Value>, key: &str) -> tera::Result<i32> {
        args.get(key)
            .and_then(tera::Value::as_i64)
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| tera::Error::msg(format!("argument `{key}` must be an integer")))
    }
    tera.register_function("requantize", |args: &HashMap<String, tera::Value>| {
        Ok(format!(
            "requantize_i8({}, {})",
            string(args, "value")?,
            int(args, "shift")?
        )
        .into())
    });
    tera.register_function("saturate", |args: &HashMap<String, tera::Value>| {
        Ok(format!("saturate_i8({})", string(args, "value")?).into())
    });
    tera.register_function("table", move |args: &HashMap<String, tera::Value>| {
        let expr = string(args, "expr")?;
        let (ex, ey) = (int(args, "input_exponent")?, int(args, "output_exponent")?);
        let mut variables = BTreeMap::new();
        for (key, value) in args {
            if !matches!(key.as_str(), "expr" | "input_exponent" | "output_exponent") {
                let v = value.as_f64().ok_or_else(|| {
                    tera::Error::msg(format!("table variable `{key}` must be a number"))
                })?;
                variables.insert(key.clone(), v);
            }
        }
        let table = expression_table(&expr, ex, ey, &variables, rounding)
            .map_err(|m| tera::Error::msg(format!("table `{expr}`: {m}")))?;
        let items: Vec<String> = table.iter().map(i8::to_string).collect();
        Ok(format!("[{}]", items.join(", ")).into())
    });
}
