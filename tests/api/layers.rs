//! The shape of the code, checked: no two files of `src/` or `benches/` import each other,
//! directly or through a chain (a module using its parent `mod.rs`, or an ancestor's, does not
//! count: a module tree's root is where its children get their shared items), and no
//! lower layer imports a higher one (domain → crypto → storage → auth → api/notify →
//! console/app → cli). Later
//! changes keep it because this test fails on the first cycle or upward import.
//!
//! The check reads the source as text: it follows `mod x;` from each crate root (as rustc
//! does) to know which file is which module, then every `crate::`, `super::`, `self::`,
//! `wafcert::` and child-module path (in `use` lines and in code) to a file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path such as `["api", "hosts"]`, within one crate.
type ModPath = Vec<String>;

/// One crate's files by module path.
#[derive(Debug, Default)]
struct Crate {
    files: BTreeMap<ModPath, PathBuf>,
}

/// The import graph of every crate under a project root.
#[derive(Debug, Default)]
struct Graph {
    /// Edges between files (relative paths), edges to ancestors already left out.
    edges: BTreeMap<String, BTreeSet<String>>,
}

/// The layer of a library file, by its top module; binaries and benchmarks sit above all.
fn layer(file: &str) -> usize {
    let Some(rest) = file.strip_prefix("src/") else {
        return 9;
    };
    let top = rest.split(['/', '.']).next().unwrap_or_default().to_owned();
    match top.as_str() {
        "lib" => 8,
        "main" => 9,
        "domain" => 0,
        "crypto" | "tagged_cache" | "telemetry" => 1,
        "storage" => 2,
        "auth" => 3,
        "api" | "listener" | "notify" => 4,
        "console" | "app" | "client" => 5,
        "cli" => 6,
        other => panic!("src/{other}: give this top-level module a layer in tests/api/layers.rs"),
    }
}

/// The source with comments, strings and character literals blanked (lengths kept), so that
/// braces and paths are only those of the code.
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('#') || next == Some('"')) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) == Some(&'"') {
                j += 1;
                loop {
                    if j >= chars.len() {
                        break;
                    }
                    if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push_str("\"\"");
                i = j;
            } else {
                out.push(c);
                i += 1;
            }
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{..}'), or a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 2..chars.len().min(i + 12)).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path written in `code` as segment lists, with `use` groups expanded, each tagged with
/// the inline module (such as `tests`) it appears in.
fn paths(code: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    // Inline modules: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        if !is_ident_char(c) || (i > 0 && (is_ident_char(chars[i - 1]) || chars[i - 1] == ':')) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_ident_char(chars[i]) {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        let inline_names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        if word == "mod" {
            // `mod name {` opens an inline module; `mod name;` declares a file.
            let rest: String = chars[i..chars.len().min(i + 80)].iter().collect();
            let rest = rest.trim_start();
            let name: String = rest.chars().take_while(|c| is_ident_char(*c)).collect();
            if rest[name.len()..].trim_start().starts_with('{') {
                inline.push((name, depth + 1));
            }
            continue;
        }
        if word == "use" {
            let end = (i..chars.len())
                .find(|&j| chars[j] == ';')
                .unwrap_or(chars.len());
            let tree: String = chars[i..end].iter().collect();
            for p in expand_use(tree.trim()) {
                found.push((inline_names.clone(), p));
            }
            i = end;
            continue;
        }
        // A path in code: word::word::...
        let mut segments = vec![word];
        while chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            let s = i + 2;
            let mut e = s;
            while e < chars.len() && is_ident_char(chars[e]) {
                e += 1;
            }
            if e == s {
                break;
            }
            segments.push(chars[s..e].iter().collect());
            i = e;
        }
        if segments.len() > 1 {
            found.push((inline_names, segments));
        }
    }
    found
}

/// `a::{b, c::{d, e}}` as `[a, b]`, `[a, c, d]`, `[a, c, e]` (renames and globs dropped).
fn expand_use(tree: &str) -> Vec<Vec<String>> {
    let tree: String = tree.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(open) = tree.find('{') {
        let head = &tree[..open];
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base: Vec<String> = head
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let n = prefix.len();
        prefix.extend(base);
        // Split `inner` at top-level commas.
        let mut level = 0;
        let mut from = 0;
        let bytes: Vec<char> = inner.chars().collect();
        for (k, ch) in bytes.iter().enumerate() {
            match ch {
                '{' => level += 1,
                '}' => level -= 1,
                ',' if level == 0 => {
                    let part: String = bytes[from..k].iter().collect();
                    expand_into(&part, prefix, out);
                    from = k + 1;
                }
                _ => {}
            }
        }
        let part: String = bytes[from..].iter().collect();
        expand_into(&part, prefix, out);
        prefix.truncate(n);
    } else {
        let item = tree.split("as").next().unwrap_or(tree);
        let mut full = prefix.clone();
        full.extend(
            item.split("::")
                .filter(|s| !s.is_empty() && *s != "*")
                .map(str::to_owned),
        );
        if !full.is_empty() {
            out.push(full);
        }
    }
}

/// The module directory of a file: where its `mod x;` children live.
fn module_dir(file: &Path) -> PathBuf {
    let parent = file.parent().unwrap_or(Path::new("")).to_path_buf();
    match file.file_stem().and_then(|s| s.to_str()) {
        Some("mod" | "lib" | "main") => parent,
        Some(stem) => parent.join(stem),
        None => parent,
    }
}

/// The `mod x;` children declared in a file's code.
fn declared_children(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in code.lines() {
        let line = line.trim_start();
        let line = line.strip_prefix("pub(crate) ").unwrap_or(line);
        let line = line.strip_prefix("pub(super) ").unwrap_or(line);
        let line = line.strip_prefix("pub ").unwrap_or(line);
        if let Some(rest) = line.strip_prefix("mod ")
            && let Some(name) = rest.trim().strip_suffix(';')
        {
            out.push(name.trim().to_owned());
        }
    }
    out
}

/// A crate's files, found from its root by following `mod x;`.
fn load_crate(root: &Path, file: &Path) -> Crate {
    let mut krate = Crate::default();
    let mut todo = vec![(Vec::<String>::new(), file.to_path_buf())];
    while let Some((path, file)) = todo.pop() {
        let text = std::fs::read_to_string(root.join(&file)).unwrap();
        let dir = module_dir(&file);
        for child in declared_children(&code_only(&text)) {
            let flat = dir.join(format!("{child}.rs"));
            let nested = dir.join(&child).join("mod.rs");
            let found = if root.join(&flat).exists() {
                flat
            } else {
                nested
            };
            let mut child_path = path.clone();
            child_path.push(child);
            todo.push((child_path, found));
        }
        krate.files.insert(path, file);
    }
    krate
}

/// The file that defines the longest prefix of `path`, or `None` outside the crate.
fn file_of<'a>(krate: &'a Crate, path: &[String]) -> Option<&'a PathBuf> {
    (0..=path.len())
        .rev()
        .find_map(|n| krate.files.get(&path[..n]))
}

/// Resolves a written path, seen in module `here`, to an absolute module path in its crate
/// (`Err` when it names the library from a binary), or `None` when it names no module of ours.
fn resolve(krate: &Crate, here: &ModPath, segments: &[String]) -> Option<Result<ModPath, ModPath>> {
    let first = segments.first()?.as_str();
    match first {
        "crate" => Some(Ok(segments[1..].to_vec())),
        "wafcert" => Some(Err(segments[1..].to_vec())),
        "self" => Some(Ok([here.clone(), segments[1..].to_vec()].concat())),
        "super" => {
            let mut base = here.clone();
            let mut rest = segments;
            while rest.first().map(String::as_str) == Some("super") {
                base.pop();
                rest = &rest[1..];
            }
            Some(Ok([base, rest.to_vec()].concat()))
        }
        child => {
            let mut candidate = here.clone();
            candidate.push(child.to_owned());
            krate
                .files
                .contains_key(&candidate)
                .then(|| Ok([here.clone(), segments.to_vec()].concat()))
        }
    }
}

/// The import graph of the crates rooted at `roots` (relative to `root`); the library is
/// `src/lib.rs`, which other crates name `wafcert`.
fn graph(root: &Path, roots: &[PathBuf]) -> Graph {
    let lib = load_crate(root, Path::new("src/lib.rs"));
    let mut graph = Graph::default();
    for crate_root in roots {
        let krate = if crate_root == Path::new("src/lib.rs") {
            None
        } else {
            Some(load_crate(root, crate_root))
        };
        let this = krate.as_ref().unwrap_or(&lib);
        for (module, file) in &this.files {
            let from = file.display().to_string();
            let code = code_only(&std::fs::read_to_string(root.join(file)).unwrap());
            let ancestors: BTreeSet<&PathBuf> = (0..module.len())
                .filter_map(|n| this.files.get(&module[..n]))
                .collect();
            let edges = graph.edges.entry(from.clone()).or_default();
            for (inline, segments) in paths(&code) {
                let here: ModPath = [module.clone(), inline].concat();
                let target = match resolve(this, &here, &segments) {
                    Some(Ok(path)) => file_of(this, &path),
                    Some(Err(path)) => file_of(&lib, &path),
                    None => None,
                };
                let Some(target) = target else { continue };
                let to = target.display().to_string();
                if to != from && !ancestors.contains(target) {
                    edges.insert(to);
                }
            }
        }
    }
    graph
}

/// Every crate root of the project: the library, the binary and each benchmark.
fn crate_roots(root: &Path) -> Vec<PathBuf> {
    let mut roots = vec![PathBuf::from("src/lib.rs"), PathBuf::from("src/main.rs")];
    if let Ok(entries) = std::fs::read_dir(root.join("benches")) {
        let mut benches: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter_map(|p| {
                let rel = PathBuf::from("benches").join(p.file_name()?);
                if p.extension().is_some_and(|e| e == "rs") {
                    Some(rel)
                } else if p.join("main.rs").exists() {
                    Some(rel.join("main.rs"))
                } else {
                    None
                }
            })
            .collect();
        benches.sort();
        roots.extend(benches);
    }
    roots
        .into_iter()
        .filter(|r| root.join(r).exists())
        .collect()
}

/// Every problem found: import cycles (each as its chain of files) and upward imports.
fn problems(root: &Path) -> Vec<String> {
    let graph = graph(root, &crate_roots(root));
    let mut found = Vec::new();
    for (from, tos) in &graph.edges {
        for to in tos {
            if layer(to) > layer(from) {
                found.push(format!("upward import: {from} uses {to}"));
            }
        }
    }
    // A cycle: a path from a file back to itself.
    let mut reported = BTreeSet::new();
    for start in graph.edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((at, chain)) = stack.pop() {
            for next in graph.edges.get(&at).into_iter().flatten() {
                if next == start {
                    let mut members = chain.clone();
                    members.sort();
                    if reported.insert(members) {
                        found.push(format!("import cycle: {} -> {start}", chain.join(" -> ")));
                    }
                } else if seen.insert(next.clone()) {
                    let mut longer = chain.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    found
}

#[test]
fn no_import_cycles_and_no_upward_imports() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let graph = graph(root, &crate_roots(root));
    assert!(
        graph.edges.len() > 40,
        "the check must see the whole tree, saw {} files",
        graph.edges.len()
    );
    assert!(
        graph.edges["src/api/hosts/mod.rs"].contains("src/storage/mod.rs"),
        "the check must see imports"
    );
    let found = problems(root);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

/// The check itself: a small tree with a cycle, an upward import and the allowed shapes.
#[test]
fn the_check_finds_cycles_and_upward_imports() {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    };
    write(
        "src/lib.rs",
        "pub mod domain;\npub mod storage;\npub mod api;\n",
    );
    write("src/main.rs", "fn main() { wafcert::api::run(); }\n");
    write("src/domain/mod.rs", "mod ids;\npub use ids::Id;\n");
    write(
        "src/domain/ids.rs",
        "use super::Other; // parent: allowed\n",
    );
    write(
        "src/storage/mod.rs",
        "mod a;\nmod b;\nuse crate::domain::Id;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    );
    write(
        "src/storage/a.rs",
        "use super::{Store, b::Facts};\nlet s = \"crate::api\";\n",
    );
    write("src/storage/b.rs", "fn f() -> super::a::Page { todo!() }\n");
    write(
        "src/api/mod.rs",
        "pub fn run() { let c = '{'; crate::storage::open(); }\n",
    );
    write(
        "benches/load.rs",
        "mod seed;\nuse wafcert::storage::Store;\n",
    );
    write("benches/load/seed.rs", "use crate::Other;\n");
    let found = problems(dir.path());
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("import cycle"), "{found:#?}");
    assert!(found[0].contains("src/storage/a.rs") && found[0].contains("src/storage/b.rs"));

    write("src/domain/ids.rs", "use crate::storage::Store;\n");
    let found = problems(dir.path());
    assert!(
        found.contains(&"upward import: src/domain/ids.rs uses src/storage/mod.rs".to_owned()),
        "{found:#?}"
    );
}

/// Tokens are minted in one place (`auth::mint_token`): no other file makes a token secret or
/// stores one.
#[test]
fn tokens_are_minted_in_one_place() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut dirs = vec![root.join("src"), root.join("benches"), root.join("tests")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let allowed = [
        "src/auth/mint.rs",
        "src/crypto.rs",
        "src/storage/credentials.rs",
    ];
    let mut offenders = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root).unwrap().display().to_string();
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        if !allowed.contains(&rel.as_str())
            && (code.contains("new_token(") || code.contains(".insert_token"))
        {
            offenders.push(rel);
        }
    }
    assert!(files.len() > 40, "saw {} files", files.len());
    assert!(
        offenders.is_empty(),
        "mint tokens with wafcert::auth::mint_token: {offenders:?}"
    );
}
