//! Layers point one way. Every module of `shared/src` is read (its code, not its comments,
//! strings or `#[cfg(test)] mod tests`), every path it names (`use` trees, `crate::…`,
//! `super::…`, a child module's name) is resolved to the module it lands in, and:
//!
//! - no module imports one that imports it back, however long the loop (a parent that
//!   re-exports a child counts as importing it, so a child may not import its parent);
//! - the domain imports nothing outside the domain, and no AWS, HTTP or telephony crate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src");

/// The crate's modules: their path (`crate::domain::attempt`) and their code.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(Path::new(SRC), &mut files);
    files
        .into_iter()
        .map(|file| {
            let rel = file.strip_prefix(SRC).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            let name = std::iter::once("crate".to_owned())
                .chain(parts)
                .collect::<Vec<_>>()
                .join("::");
            (name, code_of(&std::fs::read_to_string(&file).unwrap()))
        })
        .collect()
}

/// The source without comments, string and char literals, and `#[cfg(test)] mod tests { … }`.
fn code_of(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied()) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            (b'r', Some(b'"' | b'#')) if i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') => {
                // A raw string: r"…", r#"…"#.
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
                j += 1;
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            }
            (b'"', _) => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            (b'\'', _) => {
                // A char literal ('a', '\n', '\u{..}'); a lifetime ('a) is kept.
                let end = if b.get(i + 1) == Some(&b'\\') {
                    b[i + 2..].iter().position(|&c| c == b'\'').map(|p| i + 2 + p)
                } else if b.get(i + 2) == Some(&b'\'') {
                    Some(i + 2)
                } else {
                    std::str::from_utf8(&b[i + 1..])
                        .ok()
                        .and_then(|s| s.chars().next())
                        .filter(|c| !c.is_ascii())
                        .map(|c| i + 1 + c.len_utf8())
                        .filter(|&e| b.get(e) == Some(&b'\''))
                };
                match end {
                    Some(e) => {
                        out.push_str("' '");
                        i = e + 1;
                    }
                    None => {
                        out.push('\'');
                        i += 1;
                    }
                }
            }
            _ => {
                let ch = src[i..].chars().next().unwrap();
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    strip_test_modules(&out)
}

fn strip_test_modules(code: &str) -> String {
    // `#[cfg(test)]`, `#[cfg(all(test, …))]`: an attribute that names `test`, before a module.
    let mut out = code.to_owned();
    let mut from = 0;
    while let Some(k) = out[from..].find("#[cfg(") {
        let at = from + k;
        let Some(close) = out[at..].find(")]").map(|c| at + c + 2) else {
            break;
        };
        let attr = &out[at..close];
        let names_test = attr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == "test");
        let rest = &out[close..];
        let trimmed = rest.trim_start();
        let visibility = ["pub(crate) ", "pub(super) ", "pub ", ""]
            .into_iter()
            .find(|v| trimmed.starts_with(&format!("{v}mod ")))
            .map_or(0, str::len);
        let open = trimmed[visibility..].strip_prefix("mod ").and_then(|r| {
            let brace = r.find('{')?;
            (!r[..brace].contains(';')).then_some(brace)
        });
        let (true, Some(open)) = (names_test, open) else {
            from = close;
            continue;
        };
        let start = close + (rest.len() - trimmed.len()) + visibility + "mod ".len() + open;
        let mut depth = 0;
        let mut end = start;
        for (k, c) in out[start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = start + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.replace_range(at..end, "");
        from = at;
    }
    out
}

/// Every path in a `use` tree (`a::{b, c::{d, e}}` → `a::b`, `a::c::d`, `a::c::e`).
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    match tree.find('{') {
        None => vec![tree.split(" as ").next().unwrap().trim().to_owned()],
        Some(open) => {
            let prefix = tree[..open].trim_end_matches("::").trim();
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let mut parts = Vec::new();
            let (mut depth, mut from) = (0, 0);
            for (k, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&inner[from..k]);
                        from = k + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&inner[from..]);
            parts
                .into_iter()
                .filter(|p| !p.trim().is_empty())
                .flat_map(expand)
                .map(|p| match p.as_str() {
                    "self" => prefix.to_owned(),
                    _ if prefix.is_empty() => p,
                    _ => format!("{prefix}::{p}"),
                })
                .collect()
        }
    }
}

/// The paths a module's code names: its `use` trees and its qualified paths.
fn paths_in(code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(k) = rest.find("use ") {
        let before = rest[..k].chars().next_back();
        let after_start = &rest[k + 4..];
        rest = after_start;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(end) = after_start.find(';') {
            paths.extend(expand(&after_start[..end]));
        }
    }
    let bytes = code.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(k) = code[from..].find(start) {
            let at = from + k;
            from = at + start.len();
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b':') {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            paths.push(code[at..end].trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// The module a path from `module` lands in, if it is one of the crate's.
fn resolve(module: &str, path: &str, modules: &BTreeMap<String, String>) -> Option<String> {
    let mut segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty() && *s != "*").collect();
    let mut base: Vec<&str> = module.split("::").collect();
    match segs.first().copied() {
        Some("crate") => {
            base = vec!["crate"];
            segs.remove(0);
        }
        Some("self") => {
            segs.remove(0);
        }
        Some("super") => {
            while segs.first() == Some(&"super") {
                base.pop();
                segs.remove(0);
            }
        }
        // A child module by its name (`pub use attempt::…` in `domain`).
        Some(first) if modules.contains_key(&format!("{module}::{first}")) => {}
        _ => return None,
    }
    let mut found = None;
    let mut at = base.join("::");
    if modules.contains_key(&at) {
        found = Some(at.clone());
    }
    for seg in segs {
        at = format!("{at}::{seg}");
        if modules.contains_key(&at) {
            found = Some(at.clone());
        } else {
            break;
        }
    }
    found
}

fn graph() -> (BTreeMap<String, String>, BTreeMap<String, BTreeSet<String>>) {
    let modules = modules();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, code) in &modules {
        let to = edges.entry(name.clone()).or_default();
        for path in paths_in(code) {
            if let Some(target) = resolve(name, &path, &modules)
                && &target != name
            {
                to.insert(target);
            }
        }
    }
    (modules, edges)
}

/// Strongly connected components of more than one module (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        for w in t.edges.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut scc = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                scc.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if scc.len() > 1 {
                scc.sort();
                t.out.push(scc);
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let (modules, edges) = graph();
    assert!(modules.len() > 20, "read {} modules", modules.len());
    let found = cycles(&edges);
    assert!(
        found.is_empty(),
        "import cycles:\n{}",
        found
            .iter()
            .map(|scc| scc
                .iter()
                .map(|m| format!(
                    "  {m} -> {:?}",
                    edges[m]
                        .intersection(&scc.iter().cloned().collect())
                        .collect::<Vec<_>>()
                ))
                .collect::<Vec<_>>()
                .join("\n"))
            .collect::<Vec<_>>()
            .join("\n\n")
    );
}

#[test]
fn the_domain_imports_only_the_domain() {
    let (modules, edges) = graph();
    for (name, code) in modules.iter().filter(|(n, _)| n.starts_with("crate::domain")) {
        for to in &edges[name] {
            assert!(to.starts_with("crate::domain"), "{name} imports {to}");
        }
        for edge_crate in ["lambda_http", "aws_", "reqwest", "hyper", "tokio", "quick_xml::Reader"] {
            assert!(!code.contains(edge_crate), "{name} names {edge_crate}");
        }
    }
}

/// The checker itself: a loop it must see, and the paths it must read.
#[test]
fn the_checker_finds_a_loop_and_reads_use_trees() {
    assert_eq!(
        expand("crate::a::{b, c::{d, self}, e as f}"),
        ["crate::a::b", "crate::a::c::d", "crate::a::c", "crate::a::e"]
    );
    let code = code_of(
        "use crate::x; // crate::y\nfn f() { let s = \"crate::z\"; super::w::g(); }\n\
         #[cfg(test)]\nmod tests { use crate::t; }\n#[cfg(all(test, feature = \"x\"))]\npub(crate) mod more { use crate::u; }",
    );
    let read: BTreeSet<String> = paths_in(&code).into_iter().collect();
    assert_eq!(read, BTreeSet::from(["crate::x".to_owned(), "super::w::g".to_owned()]));
    let edges: BTreeMap<String, BTreeSet<String>> =
        [("a", vec!["b"]), ("b", vec!["c"]), ("c", vec!["a"]), ("d", vec!["a"])]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
            .collect();
    assert_eq!(cycles(&edges), [["a", "b", "c"]]);
}
