//! The README's HTTP walk-throughs, run as a reader would run them: its shell blocks, word for
//! word, in an empty directory, with `chargebridge` on the PATH, curl and jq from the machine, and
//! the simulators as partners. Only the ports are moved to free ones, so the test can run beside
//! others. If the README drifts from the API, this fails.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

const START: &str = "## Walk-throughs over HTTP";

/// The walk-through section's shell blocks, in order, as one script.
fn walkthrough_script(readme: &str) -> String {
    let start = readme.find(START).expect("the README has its walk-through section");
    let section = &readme[start..];
    let section = &section[..section[START.len()..].find("\n## ").map_or(section.len(), |end| end + START.len())];
    let blocks: Vec<&str> = section.split("```sh\n").skip(1).map(|b| b.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 3, "a start, flow A and flow B");
    blocks.concat()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn both_walkthroughs_run_as_written() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md")).unwrap();
    let (http, cpo, emsp) = (free_port(), free_port(), free_port());
    let script = walkthrough_script(&readme)
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{http}"))
        .replace("127.0.0.1:9001", &format!("127.0.0.1:{cpo}"))
        .replace("127.0.0.1:9002", &format!("127.0.0.1:{emsp}"));

    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_chargebridge"), bin.join("chargebridge")).unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());

    // Whatever the script leaves running in the background (the platform, the simulators) ends with it.
    let script = format!("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n{script}");
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("CHARGEBRIDGE_HTTP__BIND", format!("127.0.0.1:{http}"))
        .env_remove("DATABASE_URL")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");

    // Flow A: approved, charged, billed, paid from a wallet topped up through the gateway.
    let lines: Vec<&str> = stdout.lines().map(str::trim).collect();
    assert!(lines.contains(&"\"approved\""), "{context}");
    assert!(lines.contains(&"\"billed\""), "{context}");
    assert!(lines.contains(&"\"paid\""), "{context}");
    // Flow B: the platform's users charged on our pile, billed, and on today's statement.
    assert!(lines.iter().any(|l| l.starts_with("{\"seq\":\"M000100Y4") && l.ends_with("\"state\":\"billed\"}")), "{context}");
    let statement = lines.iter().find(|l| l.starts_with("{\"state\":\"draft\"")).unwrap_or_else(|| panic!("a statement: {context}"));
    assert!(!statement.contains("\"orders\":0"), "{statement}\n{context}");
}
