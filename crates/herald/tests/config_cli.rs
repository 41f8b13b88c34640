//! `herald config check` and `herald config print` as an operator runs them.

use std::process::Command;

fn herald(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .env_remove("HOSTNAME")
        .output()
        .expect("running herald")
}

#[test]
fn check_accepts_a_good_file_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.toml");
    std::fs::write(&file, "[server]\ntick_ms = 500\n").unwrap();
    let output = herald(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).ends_with(": ok\n"));
}

#[test]
fn check_rejects_a_bad_member_with_exit_1_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.toml");
    std::fs::write(
        &file,
        "[ensemble]\nme = 1\n[[ensemble.members]]\nid = 1\npeer_address = \"a:2888\"\n\
         [[ensemble.members]]\nid = 2\npeer_address = \"b:2888\"\n\
         [[ensemble.members]]\nid = 3\npeer_address = \"c\"\n",
    )
    .unwrap();
    let output = herald(&["config", "check", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ensemble.members[2].peer_address: \"c\" is not host:port"),
        "{stderr}"
    );
}

#[test]
fn check_rejects_an_unreadable_file_with_exit_1() {
    let output = herald(&["config", "check", "/nonexistent/herald.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}

#[test]
fn print_shows_defaults_overrides_and_the_resolved_id() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.toml");
    std::fs::write(
        &file,
        "[ensemble]\nme_from_hostname = true\nsecret = \"hunter2\"\n\
         members = [{ id = 1, peer_address = \"herald-0.herald-peers:2888\" }, \
                    { id = 2, peer_address = \"herald-1.herald-peers:2888\" }]\n",
    )
    .unwrap();
    let output = herald(&[
        "config",
        "print",
        file.to_str().unwrap(),
        "--hostname",
        "herald-1",
        "--set",
        "server.tick_ms=250",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let printed: toml::Table = toml::from_str(&String::from_utf8_lossy(&output.stdout)).unwrap();
    assert_eq!(printed["server"]["tick_ms"].as_integer(), Some(250));
    assert_eq!(printed["server"]["client_listen"].as_str(), Some("0.0.0.0:2181"));
    assert_eq!(printed["ensemble"]["me"].as_integer(), Some(2));
    assert_eq!(printed["ensemble"]["secret"].as_str(), Some("<redacted>"));
}

#[test]
fn keys_lists_every_documented_key() {
    let output = herald(&["config", "keys"]);
    let keys = String::from_utf8_lossy(&output.stdout);
    assert!(keys.lines().any(|key| key == "server.data_dir"));
    assert!(keys.lines().any(|key| key == "ensemble.members[].peer_address"));
}

#[test]
fn a_listing_into_a_closed_pipe_ends_quietly() {
    // As `herald config keys | grep -q KEY` does once grep has its match.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["config", "keys"])
        .stdout(writer)
        .output()
        .expect("running herald");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn server_joins_the_ensemble_its_file_describes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("herald.toml");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(
        &file,
        format!(
            "[server]\nclient_listen = \"127.0.0.1:0\"\ndata_dir = {:?}\n\
             [ensemble]\nme = 1\npeer_listen = \"127.0.0.1:{port}\"\n\
             members = [{{ id = 1, peer_address = \"127.0.0.1:{port}\" }}, {{ id = 2, peer_address = \"127.0.0.1:1\" }}, {{ id = 3, peer_address = \"127.0.0.1:2\" }}]\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["server", "--config", file.to_str().unwrap()])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines().map_while(Result::ok);
    let mut seen = Vec::new();
    for line in lines {
        seen.push(line.clone());
        // Alone of three it cannot form a quorum: it keeps looking.
        if line.contains("looking, not serving") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.iter().any(|line| line.contains("member 1 of an ensemble of 3")), "{seen:?}");
    assert!(seen.iter().any(|line| line.contains("looking, not serving")), "{seen:?}");
}

/// Every configuration the Kubernetes manifests ship is valid for each pod it serves.
#[test]
fn the_shipped_kubernetes_configurations_pass_check() {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/k8s");
    let files = ["base/herald.toml", "overlays/dev/herald.toml", "overlays/production/herald.toml"];
    for file in files {
        let path = deploy.join(file);
        let text = std::fs::read_to_string(&path).expect("the file exists");
        let members: toml::Table = toml::from_str(&text).unwrap();
        let count = members["ensemble"]["members"].as_array().unwrap().len();
        for ordinal in 0..count {
            let hostname = format!("herald-{ordinal}");
            let output =
                herald(&["config", "check", path.to_str().unwrap(), "--hostname", &hostname]);
            assert_eq!(
                output.status.code(),
                Some(0),
                "{file} on {hostname}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // One pod more than the members list: its id is not a member.
        let hostname = format!("herald-{count}");
        let output = herald(&["config", "check", path.to_str().unwrap(), "--hostname", &hostname]);
        assert_eq!(output.status.code(), Some(1), "{file} on {hostname}");
    }
}

#[test]
fn zero_worker_threads_is_refused_naming_the_flag() {
    let output = herald(&["--worker-threads", "0", "config", "keys"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--worker-threads"), "{stderr}");
}
