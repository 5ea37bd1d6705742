// `sqlx::migrate!` embeds the migration folders at compile time, but cargo does not know that a new
// file in them changes the crate: without this, an incremental build keeps the old migrations.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
