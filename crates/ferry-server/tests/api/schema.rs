//! `docs/schema.graphql` is the schema the code serves; regenerate it with
//! `UPDATE_SCHEMA=1 cargo test -p ferry-server --test api schema`.

#[test]
fn docs_schema_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema.graphql");
    let sdl = ferry_server::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == sdl,
        "docs/schema.graphql differs from the schema the code serves; run \
         `UPDATE_SCHEMA=1 cargo test -p ferry-server --test api schema` and commit the result"
    );
}
