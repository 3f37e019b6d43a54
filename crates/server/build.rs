//! With the `embed-web` feature the built web app goes into the binary: this checks that
//! `HUSH_EMBED_WEB_DIR` names a built web app (with a helpful error otherwise) and makes
//! cargo rebuild when it changes.

fn main() {
    println!("cargo::rerun-if-env-changed=HUSH_EMBED_WEB_DIR");
    if std::env::var_os("CARGO_FEATURE_EMBED_WEB").is_none() {
        return;
    }
    let dir = std::env::var("HUSH_EMBED_WEB_DIR").unwrap_or_default();
    let index = std::path::Path::new(&dir).join("index.html");
    if dir.is_empty() || !index.is_file() {
        panic!(
            "the embed-web feature needs the built web app: run scripts/build-web.sh and set \
             HUSH_EMBED_WEB_DIR to its output directory (<target dir>/web); HUSH_EMBED_WEB_DIR is {dir:?}"
        );
    }
    println!("cargo::rerun-if-changed={dir}");
}
