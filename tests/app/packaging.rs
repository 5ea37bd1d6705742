//! The container build stays in step with the manifest: its dependency-caching step creates a
//! placeholder for every bench target `Cargo.toml` names (cargo refuses to load the manifest
//! when one is missing).

#[test]
fn dockerfile_creates_every_bench_placeholder() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).expect("Cargo.toml");
    let dockerfile = std::fs::read_to_string(format!("{root}/Dockerfile")).expect("Dockerfile");
    let manifest: toml::Table = manifest.parse().expect("manifest");
    let benches: Vec<String> = manifest["bench"]
        .as_array()
        .expect("benches")
        .iter()
        .map(|b| b["name"].as_str().expect("name").to_string())
        .collect();
    assert!(!benches.is_empty());
    let line = dockerfile
        .lines()
        .find(|l| l.contains("for b in") && l.contains("benches/$b.rs"))
        .expect("the placeholder loop");
    for b in &benches {
        assert!(
            line.split_whitespace()
                .any(|w| w == b || w == format!("{b};")),
            "the Dockerfile creates no placeholder for bench {b}: {line}"
        );
    }
}
