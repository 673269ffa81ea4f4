//! XLSForm expressions (XPath 1.0 as ODK writes it) read into a [`Cond`]: the shapes real
//! forms use in `relevant` and `constraint` (measured on 75 forms), nothing more.
//!
//! - `selected(${q}, 'x')`, `not(selected(${q}, 'x'))`
//! - `${q} = 'x'`, `${q} != 'x'`, `${q} != ''`, comparisons with numbers (`${q} >= 18`)
//! - `and`, `or`, `not(…)`, brackets
//! - on the answer itself (`.`): `. >= 0 and . <= 120`, `regex(., '^[0-9]+$')`,
//!   `count-selected(.) <= 3`, `string-length(.) <= 80`
//! - curly quotes (‘x’, “x”), line breaks and non-breaking spaces, XPath paths (`../q`,
//!   `/data/group/q`) for `${q}`.
//!
//! Anything else (arithmetic, `today()`, two questions compared, `position(..)`) is
//! refused with the reason, in both languages; the caller turns it into a warning row.

use parole_client::i18n::{shown, Message};

/// What an expression tests: the current answer (`.`) or another question (`${q}`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Subject {
    Current,
    Named(String),
}

/// A literal compared with.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Lit {
    Str(String),
    Num(f64),
}

impl Lit {
    /// The literal as a number (`'5'` counts).
    pub fn number(&self) -> Option<f64> {
        match self {
            Lit::Num(n) => Some(*n),
            Lit::Str(s) => s.trim().parse().ok(),
        }
    }

    /// The literal as text (`5` is `"5"`).
    pub fn text(&self) -> String {
        match self {
            Lit::Str(s) => s.clone(),
            Lit::Num(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{}", *n as i64)
                } else {
                    n.to_string()
                }
            }
        }
    }
}

/// An order comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Order {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Order {
    /// Whether `a OP b`.
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Order::Lt => a < b,
            Order::Le => a <= b,
            Order::Gt => a > b,
            Order::Ge => a >= b,
        }
    }
}

/// One test on a subject's answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Test {
    /// `= lit`
    Equals(Lit),
    /// `< <= > >= number`
    Compare(Order, f64),
    /// `selected(subject, 'x')`
    Selected(Lit),
    /// `!= ''`: there is an answer.
    Answered,
    /// `regex(subject, 'pattern')`
    Regex(String),
    /// `count-selected(subject) OP n` (`=` is `Le` and `Ge` together).
    Count(Order, f64),
    /// `string-length(subject) OP n`
    Length(Order, f64),
}

/// A condition: tests on subjects, combined.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Cond {
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
    Test(Subject, Test),
    /// `true()` / `false()`
    Always(bool),
    /// A part with no equivalent, and why: the rest of the expression may still convert.
    Unsupported(Message),
}

/// Reads an expression. `Err` when it cannot be read at all; a part that has no equivalent
/// is a [`Cond::Unsupported`] inside the result.
pub(super) fn parse(expr: &str) -> Result<Cond, Message> {
    let tokens = tokenise(expr)?;
    let mut p = Parser { tokens, at: 0 };
    let e = p.or()?;
    if p.at < p.tokens.len() {
        let rest = p.tokens[p.at].show();
        return Err(Message::new(
            format!("« {rest} » inattendu à cet endroit"),
            format!("unexpected `{rest}` at that point"),
        ));
    }
    cond(e)
}

// ---------------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ref(String),
    Path(String),
    Dot,
    Str(String),
    Num(f64),
    Ident(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

impl Tok {
    fn show(&self) -> String {
        match self {
            Tok::Ref(n) => format!("${{{n}}}"),
            Tok::Path(p) => p.clone(),
            Tok::Dot => ".".into(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Num(n) => Lit::Num(*n).text(),
            Tok::Ident(i) => i.clone(),
            Tok::Op(o) => o.to_string(),
            Tok::Open => "(".into(),
            Tok::Close => ")".into(),
            Tok::Comma => ",".into(),
        }
    }
}

fn syntax(fr: impl Into<String>, en: impl Into<String>) -> Message {
    Message::new(fr, en)
}

fn tokenise(expr: &str) -> Result<Vec<Tok>, Message> {
    // Word processors' quotes, as real forms have them.
    let text: String = expr
        .chars()
        .map(|c| match c {
            '‘' | '’' | '‚' | '‛' | '′' => '\'',
            '“' | '”' | '„' | '″' => '"',
            c => c,
        })
        .collect();
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '$' if chars.get(i + 1) == Some(&'{') => {
                let end = chars[i + 2..]
                    .iter()
                    .position(|&c| c == '}')
                    .ok_or_else(|| {
                        syntax("« ${ » sans « } » fermante", "`${` without a closing `}`")
                    })?;
                let name: String = chars[i + 2..i + 2 + end].iter().collect();
                out.push(Tok::Ref(name.trim().to_string()));
                i += 3 + end;
            }
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&q| q == c)
                    .ok_or_else(|| syntax("guillemet non refermé", "unclosed quote"))?;
                out.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
                i += 2 + end;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            '=' => {
                out.push(Tok::Op("="));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op("!="));
                i += 2;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                out.push(Tok::Op(match (c, eq) {
                    ('<', true) => "<=",
                    ('<', false) => "<",
                    ('>', true) => ">=",
                    _ => ">",
                }));
                i += 1 + usize::from(eq);
            }
            '+' | '*' | '|' => {
                out.push(Tok::Op(match c {
                    '+' => "+",
                    '*' => "*",
                    _ => "|",
                }));
                i += 1;
            }
            '-' => {
                out.push(Tok::Op("-"));
                i += 1;
            }
            '.' | '/' => {
                // `.`, `..`, `../q`, `/data/q`, or a number like `.5`.
                if c == '.' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    let (n, len) = number(&chars[i..]);
                    out.push(Tok::Num(n));
                    i += len;
                    continue;
                }
                let start = i;
                while i < chars.len() && (is_name(chars[i]) || chars[i] == '/') {
                    i += 1;
                }
                let path: String = chars[start..i].iter().collect();
                out.push(if path == "." {
                    Tok::Dot
                } else {
                    Tok::Path(path)
                });
            }
            d if d.is_ascii_digit() => {
                let (n, len) = number(&chars[i..]);
                out.push(Tok::Num(n));
                i += len;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && is_name(chars[i]) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                out.push(match word.as_str() {
                    "and" | "or" | "div" | "mod" => Tok::Op(match word.as_str() {
                        "and" => "and",
                        "or" => "or",
                        "div" => "div",
                        _ => "mod",
                    }),
                    _ => Tok::Ident(word),
                });
            }
            other => {
                return Err(syntax(
                    format!("caractère inattendu « {} »", shown(&other.to_string())),
                    format!("unexpected character `{}`", shown(&other.to_string())),
                ))
            }
        }
    }
    Ok(out)
}

/// A number at the start of `chars`, and how many characters it took.
fn number(chars: &[char]) -> (f64, usize) {
    let len = chars
        .iter()
        .position(|c| !(c.is_ascii_digit() || *c == '.'))
        .unwrap_or(chars.len());
    let text: String = chars[..len].iter().collect();
    (text.parse().unwrap_or(f64::NAN), len)
}

// ---------------------------------------------------------------------------------------------
// Syntax tree

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Cmp(Box<Expr>, &'static str, Box<Expr>),
    /// Arithmetic (`+`, `-`, `*`, `div`, `mod`, `|`): no equivalent, kept for the message.
    Arith(&'static str),
    Neg(Box<Expr>),
    Num(f64),
    Str(String),
    Subject(Subject),
    Call(String, Vec<Expr>),
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn eat_op(&mut self, ops: &[&'static str]) -> Option<&'static str> {
        match self.peek() {
            Some(Tok::Op(o)) if ops.contains(o) => {
                let o = *o;
                self.at += 1;
                Some(o)
            }
            _ => None,
        }
    }

    fn or(&mut self) -> Result<Expr, Message> {
        let mut parts = vec![self.and()?];
        while self.eat_op(&["or"]).is_some() {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, Message> {
        let mut parts = vec![self.cmp()?];
        while self.eat_op(&["and"]).is_some() {
            parts.push(self.cmp()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn cmp(&mut self) -> Result<Expr, Message> {
        let left = self.sum()?;
        match self.eat_op(&["=", "!=", "<", "<=", ">", ">="]) {
            Some(op) => {
                let right = self.sum()?;
                Ok(Expr::Cmp(Box::new(left), op, Box::new(right)))
            }
            None => Ok(left),
        }
    }

    fn sum(&mut self) -> Result<Expr, Message> {
        let first = self.unary()?;
        if let Some(op) = self.eat_op(&["+", "-", "*", "div", "mod", "|"]) {
            // Read the rest so the expression's end is found; the result has no equivalent.
            self.unary()?;
            while self.eat_op(&["+", "-", "*", "div", "mod", "|"]).is_some() {
                self.unary()?;
            }
            return Ok(Expr::Arith(op));
        }
        Ok(first)
    }

    fn unary(&mut self) -> Result<Expr, Message> {
        if self.eat_op(&["-"]).is_some() {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, Message> {
        let Some(tok) = self.tokens.get(self.at).cloned() else {
            return Err(syntax(
                "l'expression s'arrête trop tôt",
                "the expression ends too soon",
            ));
        };
        self.at += 1;
        match tok {
            Tok::Open => {
                let e = self.or()?;
                if self.peek() != Some(&Tok::Close) {
                    return Err(syntax("parenthèse non refermée", "unclosed bracket"));
                }
                self.at += 1;
                Ok(e)
            }
            Tok::Num(n) => Ok(Expr::Num(n)),
            Tok::Str(s) => Ok(Expr::Str(s)),
            Tok::Ref(name) => Ok(Expr::Subject(Subject::Named(name))),
            Tok::Dot => Ok(Expr::Subject(Subject::Current)),
            Tok::Path(path) => {
                let last = path.rsplit('/').next().unwrap_or_default();
                if last.is_empty() || last == "." || last == ".." {
                    return Err(syntax(
                        format!("le chemin « {} » ne désigne pas une question", shown(&path)),
                        format!("the path `{}` does not name a question", shown(&path)),
                    ));
                }
                Ok(Expr::Subject(Subject::Named(last.to_string())))
            }
            Tok::Ident(name) => {
                if self.peek() == Some(&Tok::Open) {
                    self.at += 1;
                    if !KNOWN_FUNCTIONS.contains(&name.as_str()) {
                        // Its arguments do not matter: it has no equivalent. Skip to its
                        // closing bracket.
                        let mut depth = 1;
                        while depth > 0 {
                            match self.tokens.get(self.at) {
                                Some(Tok::Open) => depth += 1,
                                Some(Tok::Close) => depth -= 1,
                                Some(_) => {}
                                None => {
                                    return Err(syntax(
                                        format!("parenthèse de {name}( non refermée"),
                                        format!("unclosed bracket of {name}("),
                                    ))
                                }
                            }
                            self.at += 1;
                        }
                        return Ok(Expr::Call(name, Vec::new()));
                    }
                    let mut args = Vec::new();
                    if self.peek() == Some(&Tok::Close) {
                        self.at += 1;
                    } else {
                        loop {
                            args.push(self.or()?);
                            match self.peek() {
                                Some(Tok::Comma) => self.at += 1,
                                Some(Tok::Close) => {
                                    self.at += 1;
                                    break;
                                }
                                _ => {
                                    return Err(syntax(
                                        format!("parenthèse de {name}( non refermée"),
                                        format!("unclosed bracket of {name}("),
                                    ))
                                }
                            }
                        }
                    }
                    Ok(Expr::Call(name, args))
                } else {
                    Err(syntax(
                        format!(
                            "« {} » seul ne désigne rien : écrivez ${{{0}}} pour une question",
                            shown(&name)
                        ),
                        format!(
                            "`{}` alone names nothing: write ${{{0}}} for a question",
                            shown(&name)
                        ),
                    ))
                }
            }
            other => {
                let t = other.show();
                Err(syntax(
                    format!("« {t} » inattendu à cet endroit"),
                    format!("unexpected `{t}` at that point"),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// From the syntax tree to a condition

/// The functions that have an equivalent, in some shape.
const KNOWN_FUNCTIONS: &[&str] = &[
    "not",
    "true",
    "false",
    "selected",
    "regex",
    "count-selected",
    "string-length",
];

fn unsupported_function(name: &str) -> Message {
    Message::new(
        format!("la fonction {name}() n'a pas d'équivalent dans le format de Parole"),
        format!("the function {name}() has no equivalent in Parole's format"),
    )
}

/// The condition an expression is; a part with no equivalent becomes
/// [`Cond::Unsupported`], so that the others may still convert.
fn cond(e: Expr) -> Result<Cond, Message> {
    Ok(part(e).unwrap_or_else(Cond::Unsupported))
}

fn part(e: Expr) -> Result<Cond, Message> {
    match e {
        Expr::Or(parts) => Ok(Cond::Any(
            parts.into_iter().map(cond).collect::<Result<_, _>>()?,
        )),
        Expr::And(parts) => Ok(Cond::All(
            parts.into_iter().map(cond).collect::<Result<_, _>>()?,
        )),
        Expr::Call(name, mut args) => match (name.as_str(), args.len()) {
            ("not", 1) => Ok(Cond::Not(Box::new(cond(args.remove(0))?))),
            ("true", 0) => Ok(Cond::Always(true)),
            ("false", 0) => Ok(Cond::Always(false)),
            ("selected", 2) => {
                let value = literal(args.remove(1))?;
                let subject = subject(args.remove(0))?;
                Ok(Cond::Test(subject, Test::Selected(value)))
            }
            ("regex", 2) => {
                let Lit::Str(pattern) = literal(args.remove(1))? else {
                    return Err(Message::new(
                        "regex() attend un motif entre guillemets",
                        "regex() takes a quoted pattern",
                    ));
                };
                let subject = subject(args.remove(0))?;
                Ok(Cond::Test(subject, Test::Regex(pattern)))
            }
            _ => Err(unsupported_function(&name)),
        },
        Expr::Cmp(left, op, right) => compare(*left, op, *right),
        Expr::Arith(op) => Err(arithmetic(op)),
        Expr::Subject(_) | Expr::Num(_) | Expr::Str(_) | Expr::Neg(_) => Err(Message::new(
            "une valeur seule n'est pas une condition",
            "a value alone is not a condition",
        )),
    }
}

fn arithmetic(op: &str) -> Message {
    Message::new(
        format!("un calcul (« {op} ») n'a pas d'équivalent dans le format de Parole"),
        format!("a calculation (`{op}`) has no equivalent in Parole's format"),
    )
}

fn literal(e: Expr) -> Result<Lit, Message> {
    match e {
        Expr::Str(s) => Ok(Lit::Str(s)),
        Expr::Num(n) => Ok(Lit::Num(n)),
        Expr::Neg(inner) => match *inner {
            Expr::Num(n) => Ok(Lit::Num(-n)),
            _ => Err(not_a_literal()),
        },
        Expr::Subject(_) => Err(Message::new(
            "comparer deux questions entre elles n'a pas d'équivalent dans le format de Parole",
            "comparing two questions with each other has no equivalent in Parole's format",
        )),
        Expr::Arith(op) => Err(arithmetic(op)),
        Expr::Call(name, _) => Err(unsupported_function(&name)),
        _ => Err(not_a_literal()),
    }
}

fn not_a_literal() -> Message {
    Message::new(
        "seule une comparaison avec un nombre ou un texte a un équivalent",
        "only a comparison with a number or a text has an equivalent",
    )
}

fn subject(e: Expr) -> Result<Subject, Message> {
    match e {
        Expr::Subject(s) => Ok(s),
        Expr::Call(name, _) => Err(unsupported_function(&name)),
        Expr::Arith(op) => Err(arithmetic(op)),
        _ => Err(Message::new(
            "attendu une question (${q} ou .)",
            "expected a question (${q} or .)",
        )),
    }
}

/// What a side of a comparison measures: the answer, how many are selected, or its length.
enum Measure {
    Value(Subject),
    Count(Subject),
    Length(Subject),
}

fn measure(e: Expr) -> Result<Option<Measure>, Message> {
    match e {
        Expr::Subject(s) => Ok(Some(Measure::Value(s))),
        Expr::Call(name, mut args) if args.len() == 1 => match name.as_str() {
            "count-selected" => Ok(Some(Measure::Count(subject(args.remove(0))?))),
            "string-length" => Ok(Some(Measure::Length(subject(args.remove(0))?))),
            _ => Err(unsupported_function(&name)),
        },
        Expr::Call(name, _) if !KNOWN_FUNCTIONS.contains(&name.as_str()) => {
            Err(unsupported_function(&name))
        }
        Expr::Call(name, args) if !args.is_empty() => Err(unsupported_function(&name)),
        Expr::Arith(op) => Err(arithmetic(op)),
        _ => Ok(None),
    }
}

fn compare(left: Expr, op: &'static str, right: Expr) -> Result<Cond, Message> {
    // The question on the left: `5 < ${q}` is `${q} > 5`.
    let (m, lit, op) = match measure(left.clone())? {
        Some(m) => (m, literal(right)?, op),
        None => match measure(right)? {
            Some(m) => {
                let mirrored = match op {
                    "<" => ">",
                    "<=" => ">=",
                    ">" => "<",
                    ">=" => "<=",
                    same => same,
                };
                (m, literal(left)?, mirrored)
            }
            None => return Err(not_a_literal()),
        },
    };
    let order = match op {
        "<" => Some(Order::Lt),
        "<=" => Some(Order::Le),
        ">" => Some(Order::Gt),
        ">=" => Some(Order::Ge),
        _ => None,
    };
    let number = || {
        lit.number().ok_or_else(|| {
            Message::new(
                format!("« {} » n'est pas un nombre", shown(&lit.text())),
                format!("`{}` is not a number", shown(&lit.text())),
            )
        })
    };
    let test = |s: Subject, t: Test| Cond::Test(s, t);
    let counted = |s: Subject, make: fn(Order, f64) -> Test, n: f64| match op {
        "=" => Cond::All(vec![
            test(s.clone(), make(Order::Ge, n)),
            test(s, make(Order::Le, n)),
        ]),
        "!=" => Cond::Not(Box::new(Cond::All(vec![
            test(s.clone(), make(Order::Ge, n)),
            test(s, make(Order::Le, n)),
        ]))),
        _ => test(s, make(order.expect("an order"), n)),
    };
    Ok(match m {
        Measure::Count(s) => counted(s, Test::Count, number()?),
        Measure::Length(s) => counted(s, Test::Length, number()?),
        Measure::Value(s) => match (op, &lit) {
            ("=", Lit::Str(t)) if t.is_empty() => Cond::Not(Box::new(test(s, Test::Answered))),
            ("!=", Lit::Str(t)) if t.is_empty() => test(s, Test::Answered),
            ("=", _) => test(s, Test::Equals(lit)),
            ("!=", _) => Cond::Not(Box::new(test(s, Test::Equals(lit)))),
            _ => test(s, Test::Compare(order.expect("an order"), number()?)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(n: &str) -> Subject {
        Subject::Named(n.into())
    }

    fn t(s: Subject, test: Test) -> Cond {
        Cond::Test(s, test)
    }

    fn not(c: Cond) -> Cond {
        Cond::Not(Box::new(c))
    }

    #[test]
    fn the_common_relevant_shapes_are_read() {
        let cases = [
            (
                "selected(${q}, 'x')",
                t(named("q"), Test::Selected(Lit::Str("x".into()))),
            ),
            (
                "${q} = 'x'",
                t(named("q"), Test::Equals(Lit::Str("x".into()))),
            ),
            (
                "${q}='yes'",
                t(named("q"), Test::Equals(Lit::Str("yes".into()))),
            ),
            (
                "${q} != 'x'",
                not(t(named("q"), Test::Equals(Lit::Str("x".into())))),
            ),
            ("${q} != ''", t(named("q"), Test::Answered)),
            ("${q} = ''", not(t(named("q"), Test::Answered))),
            ("${q} >= 18", t(named("q"), Test::Compare(Order::Ge, 18.0))),
            ("${q}>0", t(named("q"), Test::Compare(Order::Gt, 0.0))),
            ("18 <= ${q}", t(named("q"), Test::Compare(Order::Ge, 18.0))),
            (
                "not(selected(${q}, 'x'))",
                not(t(named("q"), Test::Selected(Lit::Str("x".into())))),
            ),
            (
                "selected(${a}, 'x') or selected(${b}, 'y')",
                Cond::Any(vec![
                    t(named("a"), Test::Selected(Lit::Str("x".into()))),
                    t(named("b"), Test::Selected(Lit::Str("y".into()))),
                ]),
            ),
            (
                "${a} = 'ja' and (${b} = 'x' or ${b} = 'y')",
                Cond::All(vec![
                    t(named("a"), Test::Equals(Lit::Str("ja".into()))),
                    Cond::Any(vec![
                        t(named("b"), Test::Equals(Lit::Str("x".into()))),
                        t(named("b"), Test::Equals(Lit::Str("y".into()))),
                    ]),
                ]),
            ),
            // Curly quotes, a line break, an XPath path, a space before the bracket.
            (
                "selected(${q}, ‘other’)\n",
                t(named("q"), Test::Selected(Lit::Str("other".into()))),
            ),
            (
                "selected (../q,\n 'x')",
                t(named("q"), Test::Selected(Lit::Str("x".into()))),
            ),
            (
                "/data/group/q = 1",
                t(named("q"), Test::Equals(Lit::Num(1.0))),
            ),
            ("true()", Cond::Always(true)),
        ];
        for (expr, want) in cases {
            assert_eq!(parse(expr).unwrap(), want, "{expr}");
        }
    }

    #[test]
    fn the_common_constraint_shapes_are_read() {
        let cases = [
            (
                ". >= 18 and . <= 120",
                Cond::All(vec![
                    t(Subject::Current, Test::Compare(Order::Ge, 18.0)),
                    t(Subject::Current, Test::Compare(Order::Le, 120.0)),
                ]),
            ),
            (
                ".> 17 and .< 120",
                Cond::All(vec![
                    t(Subject::Current, Test::Compare(Order::Gt, 17.0)),
                    t(Subject::Current, Test::Compare(Order::Lt, 120.0)),
                ]),
            ),
            (
                "regex(., '^[0-9]{5}$')",
                t(Subject::Current, Test::Regex("^[0-9]{5}$".into())),
            ),
            (
                "count-selected(.) <= 3",
                t(Subject::Current, Test::Count(Order::Le, 3.0)),
            ),
            (
                "string-length(.) <= 80",
                t(Subject::Current, Test::Length(Order::Le, 80.0)),
            ),
            (
                ". > -5",
                t(Subject::Current, Test::Compare(Order::Gt, -5.0)),
            ),
        ];
        for (expr, want) in cases {
            assert_eq!(parse(expr).unwrap(), want, "{expr}");
        }
    }

    /// Why an expression does not convert: its syntax error, or its first unsupported part.
    fn why(expr: &str) -> Option<Message> {
        fn first(c: &Cond) -> Option<Message> {
            match c {
                Cond::Unsupported(m) => Some(m.clone()),
                Cond::All(v) | Cond::Any(v) => v.iter().find_map(first),
                Cond::Not(c) => first(c),
                _ => None,
            }
        }
        match parse(expr) {
            Err(m) => Some(m),
            Ok(c) => first(&c),
        }
    }

    #[test]
    fn only_the_part_without_an_equivalent_is_marked() {
        let c = parse(". >= 0 and . <= ${total}").unwrap();
        let Cond::All(parts) = c else { panic!("{c:?}") };
        assert_eq!(parts[0], t(Subject::Current, Test::Compare(Order::Ge, 0.0)));
        assert!(matches!(&parts[1], Cond::Unsupported(m) if m.en.contains("two questions")));
    }

    #[test]
    fn what_has_no_equivalent_is_refused_with_the_reason() {
        let cases = [
            (". <= ${a_integer}", "two questions"),
            ("${a} + ${b} > 3", "calculation"),
            ("today() > ${d}", "today()"),
            ("position(..) = 1", "position()"),
            ("${q} = 'x' and", "ends too soon"),
            ("selected(${q}, 'x'", "unclosed bracket"),
            ("q = 'x'", "alone names nothing"),
            ("${q} > 'abc'", "not a number"),
        ];
        for (expr, reason) in cases {
            let e = why(expr).unwrap_or_else(|| panic!("{expr} converted"));
            assert!(e.en.contains(reason), "{expr}: {e:?}");
            assert!(!e.fr.is_empty() && e.fr != e.en, "{expr}: {e:?}");
        }
    }
}
