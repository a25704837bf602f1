//! A small f64 expression language for lookup tables built at codegen, e.g.
//! `x / (1 + exp(-beta * x))`. Numbers, named variables, `+ - * / ^`, unary minus,
//! parentheses, and the functions listed in [`FUNCTIONS`]. Evaluation is plain f64 in a fixed
//! order, so the same expression gives the same table on every machine.

use std::collections::BTreeMap;

/// The functions an expression may call, each of one argument except `min`, `max`, `pow`.
pub const FUNCTIONS: &[&str] = &[
    "exp", "ln", "log", "sqrt", "abs", "tanh", "sigmoid", "erf", "floor", "ceil", "min", "max",
    "pow",
];

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Number(f64),
    Variable(String),
    Negate(Box<Expr>),
    Binary(char, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression(Expr);

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, String> {
        let mut parser = Parser { text, pos: 0 };
        let expr = parser.sum()?;
        parser.skip_space();
        if parser.pos != text.len() {
            return Err(format!(
                "unexpected '{}' at column {} of `{text}`",
                &text[parser.pos..],
                parser.pos + 1
            ));
        }
        Ok(Expression(expr))
    }

    pub fn eval(&self, variables: &BTreeMap<String, f64>) -> Result<f64, String> {
        eval(&self.0, variables)
    }
}

fn eval(expr: &Expr, vars: &BTreeMap<String, f64>) -> Result<f64, String> {
    Ok(match expr {
        Expr::Number(v) => *v,
        Expr::Variable(name) => *vars
            .get(name)
            .ok_or_else(|| format!("unknown variable '{name}'"))?,
        Expr::Negate(e) => -eval(e, vars)?,
        Expr::Binary(op, a, b) => {
            let (a, b) = (eval(a, vars)?, eval(b, vars)?);
            match op {
                '+' => a + b,
                '-' => a - b,
                '*' => a * b,
                '/' => a / b,
                _ => a.powf(b),
            }
        }
        Expr::Call(name, args) => {
            let args = args
                .iter()
                .map(|a| eval(a, vars))
                .collect::<Result<Vec<_>, _>>()?;
            let arity = if matches!(name.as_str(), "min" | "max" | "pow") {
                2
            } else {
                1
            };
            if args.len() != arity {
                return Err(format!(
                    "{name} takes {arity} argument(s), got {}",
                    args.len()
                ));
            }
            let x = args[0];
            match name.as_str() {
                "exp" => x.exp(),
                "ln" | "log" => x.ln(),
                "sqrt" => x.sqrt(),
                "abs" => x.abs(),
                "tanh" => x.tanh(),
                "sigmoid" => 1.0 / (1.0 + (-x).exp()),
                "erf" => erf(x),
                "floor" => x.floor(),
                "ceil" => x.ceil(),
                "min" => x.min(args[1]),
                "max" => x.max(args[1]),
                "pow" => x.powf(args[1]),
                other => return Err(format!("unknown function '{other}'")),
            }
        }
    })
}

/// The error function in f64. `erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n 2^n x^(2n+1) / (2n+1)!!`
/// has only positive terms, so it loses no precision to cancellation; beyond |x| = 6,
/// `1 - erf(x) < 3e-17` rounds to 1.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x.abs() >= 6.0 {
        return x.signum();
    }
    let mut term = x;
    let mut sum = x;
    let mut n = 0.0;
    while term.abs() > sum.abs() * 1e-18 {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while let Some(c) = self.text[self.pos..]
            .chars()
            .next()
            .filter(|c| c.is_whitespace())
        {
            self.pos += c.len_utf8();
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.text[self.pos..].chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn sum(&mut self) -> Result<Expr, String> {
        let mut left = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek() {
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.product()?));
        }
        Ok(left)
    }

    fn product(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek() {
            self.pos += 1;
            left = Expr::Binary(op, Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat('-') {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        self.power()
    }

    /// `^` binds tighter than unary minus on its left and is right-associative.
    fn power(&mut self) -> Result<Expr, String> {
        let base = self.atom()?;
        if self.eat('^') {
            return Ok(Expr::Binary('^', Box::new(base), Box::new(self.unary()?)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let inner = self.sum()?;
                if !self.eat(')') {
                    return Err(format!("missing ')' in `{}`", self.text));
                }
                Ok(inner)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let start = self.pos;
                let rest = &self.text[start..];
                let mut len = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                    .unwrap_or(rest.len());
                // Exponent part: 1e-3, 2.5E+4
                if rest[len..].starts_with(['e', 'E']) {
                    let tail = &rest[len + 1..];
                    let sign = usize::from(tail.starts_with(['+', '-']));
                    let digits = tail[sign..]
                        .find(|c: char| !c.is_ascii_digit())
                        .unwrap_or(tail.len() - sign);
                    if digits > 0 {
                        len += 1 + sign + digits;
                    }
                }
                self.pos += len;
                rest[..len]
                    .parse()
                    .map(Expr::Number)
                    .map_err(|_| format!("bad number '{}' in `{}`", &rest[..len], self.text))
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                let rest = &self.text[self.pos..];
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                let name = rest[..len].to_string();
                self.pos += len;
                if self.eat('(') {
                    if !FUNCTIONS.contains(&name.as_str()) {
                        return Err(format!(
                            "unknown function '{name}' (known: {})",
                            FUNCTIONS.join(", ")
                        ));
                    }
                    let mut args = vec![self.sum()?];
                    while self.eat(',') {
                        args.push(self.sum()?);
                    }
                    if !self.eat(')') {
                        return Err(format!("missing ')' after arguments of {name}"));
                    }
                    return Ok(Expr::Call(name, args));
                }
                match name.as_str() {
                    "pi" => Ok(Expr::Number(std::f64::consts::PI)),
                    "e" => Ok(Expr::Number(std::f64::consts::E)),
                    _ => Ok(Expr::Variable(name)),
                }
            }
            _ => Err(format!(
                "expected a number, name or '(' at column {} of `{}`",
                start + 1,
                self.text
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str, x: f64) -> f64 {
        let vars = BTreeMap::from([("x".to_string(), x), ("beta".to_string(), 2.0)]);
        Expression::parse(text).unwrap().eval(&vars).unwrap()
    }

    #[test]
    fn precedence_and_functions() {
        assert_eq!(eval("1 + 2 * 3", 0.0), 7.0);
        assert_eq!(eval("(1 + 2) * 3", 0.0), 9.0);
        assert_eq!(eval("-x ^ 2", 3.0), -9.0);
        assert_eq!(eval("2 ^ 3 ^ 2", 0.0), 512.0);
        assert_eq!(eval("x / (1 + exp(-beta * x))", 0.0), 0.0);
        assert_eq!(eval("max(x, 0) + min(x, 0)", -1.5), -1.5);
        assert_eq!(eval("1e-3 * 1000", 0.0), 1.0);
        assert!((eval("sigmoid(x)", 0.0) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn erf_matches_known_values() {
        for (x, expected) in [
            (0.0, 0.0),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.0, 0.999_977_909_503_001_4),
            (-1.0, -0.842_700_792_949_714_9),
        ] {
            assert!((erf(x) - expected).abs() < 1e-14, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn errors_are_explained() {
        assert!(Expression::parse("foo(x)")
            .unwrap_err()
            .contains("unknown function"));
        assert!(Expression::parse("(x").unwrap_err().contains("missing ')'"));
        assert!(Expression::parse("x +").is_err());
        let e = Expression::parse("y * 2").unwrap();
        assert!(e
            .eval(&BTreeMap::new())
            .unwrap_err()
            .contains("unknown variable 'y'"));
    }
}
