//! Znode path rules, as ZooKeeper's `PathUtils.validatePath`.

use proto::ErrorCode;

/// Validates a whole path. A sequential create is validated after its
/// suffix is appended, so "/q/" + counter is fine while "/q/" itself is not.
pub fn validate(path: &str) -> Result<(), ErrorCode> {
    let bad = ErrorCode::BadArguments;
    if path.is_empty() || !path.starts_with('/') {
        return Err(bad);
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err(bad);
    }
    for component in path[1..].split('/') {
        if component.is_empty() || component == "." || component == ".." {
            return Err(bad);
        }
    }
    let forbidden = |c: char| {
        c == '\0'
            || ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            // ZooKeeper refuses UTF-16 surrogates too; Rust strings cannot hold them.
            || ('\u{e000}'..'\u{f8ff}').contains(&c)
            || ('\u{fff1}'..'\u{ffff}').contains(&c)
    };
    if path.chars().any(forbidden) {
        return Err(bad);
    }
    Ok(())
}

/// The parent of a valid non-root path ("/a/b" → "/a", "/a" → "/").
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(index) => &path[..index],
    }
}

/// The last component of a valid non-root path.
pub fn name(path: &str) -> &str {
    &path[path.rfind('/').map_or(0, |index| index + 1)..]
}

/// `parent` joined with a child `name`.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" { format!("/{name}") } else { format!("{parent}/{name}") }
}

/// Every proper ancestor of `path`, nearest first, ending with "/".
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut current = path;
    std::iter::from_fn(move || {
        if current == "/" {
            return None;
        }
        current = parent(current);
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_and_invalid_paths() {
        for good in ["/", "/a", "/a/b", "/zookeeper", "/a b", "/\u{e9}"] {
            assert_eq!(validate(good), Ok(()), "{good}");
        }
        for bad in ["", "a", "/a/", "//", "/a//b", "/.", "/a/..", "/a\0b", "/a\u{1}"] {
            assert_eq!(validate(bad), Err(ErrorCode::BadArguments), "{bad:?}");
        }
        assert_eq!(validate("/q/"), Err(ErrorCode::BadArguments));
        assert_eq!(validate("/q/0000000000"), Ok(()));
    }

    #[test]
    fn parents_names_and_ancestors() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/").count(), 0);
    }
}
