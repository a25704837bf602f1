//! Folds the arithmetic identities that templates produce when a literal is 0 or 1
//! (`top + 0`, `oy * 1`, `oc / 1`, `ry % 1 == 0`, `x.wrapping_sub(0)`), and the parentheses
//! they leave around a call's argument, so that the generated code reads as written by hand
//! and passes clippy in users' crates (`x % 1` is a clippy error). Only integer identities
//! are folded; templates do integer index arithmetic.

use syn::visit_mut::{self, VisitMut};
use syn::{BinOp, Expr, ExprLit, Lit};

/// Simplifies a rendered layer function in place.
pub fn simplify(function: &mut syn::ItemFn) {
    Simplifier.visit_item_fn_mut(function);
}

struct Simplifier;

fn int_literal(expr: &Expr) -> Option<u128> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse().ok(),
        Expr::Paren(p) => int_literal(&p.expr),
        _ => None,
    }
}

fn bool_literal(expr: &Expr) -> Option<bool> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Bool(b), ..
        }) => Some(b.value),
        Expr::Paren(p) => bool_literal(&p.expr),
        _ => None,
    }
}

/// Whether parentheses around `expr` can go: it binds tighter than any operator.
fn atomic(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Path(_)
            | Expr::Lit(_)
            | Expr::MethodCall(_)
            | Expr::Call(_)
            | Expr::Field(_)
            | Expr::Index(_)
            | Expr::Paren(_)
    )
}

/// Drops parentheses around a whole right-hand side (`let ix = (left + 1);`).
fn unwrap_paren(expr: &mut Expr) {
    if let Expr::Paren(p) = expr {
        *expr = (*p.expr).clone();
    }
}

impl VisitMut for Simplifier {
    fn visit_local_mut(&mut self, local: &mut syn::Local) {
        visit_mut::visit_local_mut(self, local);
        if let Some(init) = &mut local.init {
            unwrap_paren(&mut init.expr);
        }
    }

    fn visit_expr_assign_mut(&mut self, assign: &mut syn::ExprAssign) {
        visit_mut::visit_expr_assign_mut(self, assign);
        unwrap_paren(&mut assign.right);
    }

    fn visit_expr_method_call_mut(&mut self, call: &mut syn::ExprMethodCall) {
        visit_mut::visit_expr_method_call_mut(self, call);
        // `row.get((ox + 1))`, left by a folded `.wrapping_sub(0)` inside the argument.
        call.args.iter_mut().for_each(unwrap_paren);
    }

    fn visit_expr_call_mut(&mut self, call: &mut syn::ExprCall) {
        visit_mut::visit_expr_call_mut(self, call);
        call.args.iter_mut().for_each(unwrap_paren);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // Children first, so that identities nested inside fold outward.
        visit_mut::visit_expr_mut(self, expr);
        let replacement: Option<Expr> = match expr {
            Expr::Binary(b) => {
                let (l, r) = (int_literal(&b.left), int_literal(&b.right));
                match (&b.op, l, r) {
                    (BinOp::Add(_), _, Some(0)) | (BinOp::Sub(_), _, Some(0)) => {
                        Some((*b.left).clone())
                    }
                    (BinOp::Add(_), Some(0), _) => Some((*b.right).clone()),
                    (BinOp::Mul(_), _, Some(1)) | (BinOp::Div(_), _, Some(1)) => {
                        Some((*b.left).clone())
                    }
                    (BinOp::Mul(_), Some(1), _) => Some((*b.right).clone()),
                    (BinOp::Rem(_), _, Some(1)) => Some(syn::parse_quote!(0)),
                    (BinOp::Eq(_), Some(a), Some(c)) => Some(Expr::Lit(ExprLit {
                        attrs: vec![],
                        lit: Lit::Bool(syn::LitBool::new(a == c, proc_macro2::Span::call_site())),
                    })),
                    (BinOp::And(_), _, _) => {
                        match (bool_literal(&b.left), bool_literal(&b.right)) {
                            (Some(true), _) => Some((*b.right).clone()),
                            (_, Some(true)) => Some((*b.left).clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                }
            }
            Expr::MethodCall(m)
                if matches!(
                    m.method.to_string().as_str(),
                    "wrapping_sub" | "wrapping_add"
                ) && m.args.len() == 1
                    && int_literal(&m.args[0]) == Some(0) =>
            {
                Some((*m.receiver).clone())
            }
            Expr::Paren(p) if atomic(&p.expr) => Some((*p.expr).clone()),
            _ => None,
        };
        if let Some(r) = replacement {
            *expr = r;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::ToTokens;

    fn simplified(body: &str) -> String {
        let mut f: syn::ItemFn = syn::parse_str(&format!("fn f() {{ {body} }}")).unwrap();
        simplify(&mut f);
        f.block.stmts[0].to_token_stream().to_string()
    }

    #[test]
    fn identities_fold() {
        assert_eq!(
            simplified("let a = (top + 0) * 8 + left + 0;"),
            "let a = top * 8 + left ;"
        );
        assert_eq!(simplified("let a = oy * 1;"), "let a = oy ;");
        assert_eq!(simplified("let a = oc / 1 * 1;"), "let a = oc ;");
        assert_eq!(
            simplified("let a = (top + 0).wrapping_sub(0);"),
            "let a = top ;"
        );
        assert_eq!(
            simplified("let a = row.get((ox + 1).wrapping_sub(0));"),
            "let a = row . get (ox + 1) ;"
        );
        assert_eq!(
            simplified("let a = f((x * 2).wrapping_sub(0), (y));"),
            "let a = f (x * 2 , y) ;"
        );
        assert_eq!(
            simplified("let a = ry % 1 == 0 && ix < 7;"),
            "let a = ix < 7 ;"
        );
    }

    #[test]
    fn other_arithmetic_is_kept() {
        assert_eq!(
            simplified("let a = (top + 2) * 8;"),
            "let a = (top + 2) * 8 ;"
        );
        assert_eq!(
            simplified("let a = x - 1 + 0 * y;"),
            "let a = x - 1 + 0 * y ;"
        );
        assert_eq!(simplified("let a = (x).max(0);"), "let a = x . max (0) ;");
        assert_eq!(
            simplified("let a = (x + 1).wrapping_sub(0);"),
            "let a = x + 1 ;"
        );
        assert_eq!(
            simplified("let a = (x + 1).wrapping_sub(0) * 8;"),
            "let a = (x + 1) * 8 ;"
        );
    }
}
