//! Unit tests of configuration loading: merge order, key-naming errors, limits.

use super::validate::{ENSEMBLE_MEMBERS_MAX, PACKET_BYTES_MIN, TICK_MS_MAX};
use super::*;

fn from_file(text: &str) -> Result<Effective, ConfigError> {
    resolve(&Sources { file_text: Some(text), ..Sources::default() })
}

fn problem(result: Result<Effective, ConfigError>) -> String {
    result.expect_err("the configuration is rejected").to_string()
}

const THREE_MEMBERS: &str = r#"
[ensemble]
me_from_hostname = true
[[ensemble.members]]
id = 1
peer_address = "herald-0.herald-peers:2888"
[[ensemble.members]]
id = 2
peer_address = "herald-1.herald-peers:2888"
[[ensemble.members]]
id = 3
peer_address = "herald-2.herald-peers:2888"
client_address = "herald-2.herald-peers:2181"
"#;

#[test]
fn no_file_gives_the_server_config_defaults() {
    let effective = resolve(&Sources::default()).unwrap();
    let expected = server::ServerConfig::new(sections::CLIENT_LISTEN_DEFAULT, "herald-data");
    assert_eq!(format!("{:?}", effective.server), format!("{expected:?}"));
}

#[test]
fn file_values_reach_the_server_config() {
    let effective = from_file(
        "[server]\nclient_listen = \"127.0.0.1:3000\"\ndata_dir = \"/data\"\ntick_ms = 500\nsession_timeout_ms_max = 4000\n",
    )
    .unwrap();
    assert_eq!(effective.server.client_listen.to_string(), "127.0.0.1:3000");
    assert_eq!(effective.server.data_dir, std::path::PathBuf::from("/data"));
    assert_eq!(effective.server.tick_ms, 500);
    assert_eq!(effective.server.session_timeout_ms_max(), 4000);
    assert_eq!(effective.server.session_timeout_ms_min(), 1000);
    assert!(effective.server.ensemble.is_none());
}

#[test]
fn unknown_keys_are_named() {
    assert!(problem(from_file("[server]\ntick = 5\n")).starts_with("server.tick: unknown key"));
    assert!(problem(from_file("[sever]\n")).starts_with("sever: unknown key"));
    let member_typo = THREE_MEMBERS.replace("client_address", "client_adress");
    assert!(
        problem(from_file(&member_typo))
            .starts_with("ensemble.members[2].client_adress: unknown key"),
    );
}

#[test]
fn wrong_types_and_bad_addresses_are_named() {
    assert!(problem(from_file("[server]\ntick_ms = \"fast\"\n")).starts_with("server.tick_ms: "));
    assert!(
        problem(from_file("[server]\nclient_listen = \"nowhere\"\n"))
            .starts_with("server.client_listen: ")
    );
    let bad_peer = THREE_MEMBERS.replace("herald-2.herald-peers:2888", "herald-2.herald-peers");
    let message = problem(resolve(&Sources {
        file_text: Some(&bad_peer),
        hostname: Some("herald-0".into()),
        ..Sources::default()
    }));
    assert!(message.starts_with("ensemble.members[2].peer_address: "), "{message}");
    let bad_role = THREE_MEMBERS.replace("id = 2\n", "id = 2\nrole = \"leader\"\n");
    assert!(problem(from_file(&bad_role)).starts_with("ensemble.members[1].role: "));
}

#[test]
fn syntax_errors_carry_the_line() {
    let message = problem(from_file("[server]\ntick_ms = = 3\n"));
    assert!(message.starts_with("not valid TOML: ") && message.contains("line 2"), "{message}");
}

#[test]
fn environment_overrides_the_file_and_flags_override_the_environment() {
    let sources = Sources {
        file_text: Some("[server]\ntick_ms = 100\nsnapshot_every_txns = 7\n"),
        environment: vec![
            ("HERALD_SERVER_TICK_MS".into(), "200".into()),
            ("HERALD_SERVER_CLIENT_LISTEN".into(), "127.0.0.1:4000".into()),
            ("HERALD_LISTEN".into(), "not configuration".into()),
            ("PATH".into(), "/bin".into()),
        ],
        sets: vec!["server.tick_ms=300".into()],
        hostname: None,
    };
    let effective = resolve(&sources).unwrap();
    assert_eq!(effective.server.tick_ms, 300);
    assert_eq!(effective.server.snapshot_every_txns, 7);
    assert_eq!(effective.server.client_listen.to_string(), "127.0.0.1:4000");
}

#[test]
fn errors_in_overrides_name_their_origin() {
    let sources = Sources {
        environment: vec![("HERALD_SERVER_TICK".into(), "5".into())],
        ..Sources::default()
    };
    let message = problem(resolve(&sources));
    assert!(message.starts_with("server.tick: unknown key"), "{message}");
    assert!(message.ends_with("(set by environment variable HERALD_SERVER_TICK)"), "{message}");
    let sources = Sources { sets: vec!["server.tick_ms=0".into()], ..Sources::default() };
    assert!(problem(resolve(&sources)).ends_with("(set by flag --set server.tick_ms=0)"));
    let sources =
        Sources { environment: vec![("HERALD_SERVER_".into(), "5".into())], ..Sources::default() };
    assert!(
        problem(resolve(&sources))
            .starts_with("HERALD_SERVER_: names the [server] section but no key")
    );
    let sources = Sources { sets: vec!["tick_ms=5".into()], ..Sources::default() };
    assert!(problem(resolve(&sources)).starts_with("--set tick_ms=5: expected SECTION.KEY=VALUE"));
}

#[test]
fn an_ensemble_can_be_given_whole_in_one_variable() {
    let sources = Sources {
        environment: vec![
            ("HERALD_ENSEMBLE_ME".into(), "2".into()),
            (
                "HERALD_ENSEMBLE_MEMBERS".into(),
                r#"[{ id = 1, peer_address = "a:2888" }, { id = 2, peer_address = "b:2888", role = "observer" }]"#
                    .into(),
            ),
            ("HERALD_ENSEMBLE_SECRET".into(), "s3cret".into()),
        ],
        ..Sources::default()
    };
    let ensemble = resolve(&sources).unwrap().server.ensemble.unwrap();
    assert_eq!(ensemble.me, 2);
    assert_eq!(ensemble.members[1].role, server::config::ServerRole::Observer);
    assert_eq!(ensemble.secret.as_deref(), Some("s3cret"));
    assert_eq!(ensemble.peer_listen, sections::PEER_LISTEN_DEFAULT);
}

#[test]
fn me_comes_from_the_pod_hostname_ordinal_plus_one() {
    let resolve_on = |hostname: &str| {
        resolve(&Sources {
            file_text: Some(THREE_MEMBERS),
            hostname: Some(hostname.into()),
            ..Sources::default()
        })
    };
    let effective = resolve_on("herald-2").unwrap();
    assert_eq!(effective.server.ensemble.as_ref().unwrap().me, 3);
    assert_eq!(effective.file.ensemble.as_ref().unwrap().me, Some(3));
    assert_eq!(
        resolve_on("herald-0.herald-peers.ns.svc.cluster.local")
            .unwrap()
            .server
            .ensemble
            .unwrap()
            .me,
        1
    );
    let message = problem(resolve_on("herald-3"));
    assert!(message.starts_with("ensemble.me_from_hostname: id 4 is not among"), "{message}");
    let message = problem(resolve_on("laptop"));
    assert!(message.starts_with("ensemble.me_from_hostname: hostname \"laptop\" has no ordinal"));
    assert!(identity::id_from_hostname("herald-").is_err());
    assert!(identity::id_from_hostname("herald-18446744073709551615").is_err());
    assert_eq!(identity::id_from_hostname("herald-18446744073709551614"), Ok(u64::MAX));
}

#[test]
fn me_must_be_given_exactly_once() {
    let neither = THREE_MEMBERS.replace("me_from_hostname = true", "");
    assert!(problem(from_file(&neither)).starts_with("ensemble.me: missing"));
    let both = THREE_MEMBERS.replace("me_from_hostname = true", "me_from_hostname = true\nme = 1");
    assert!(problem(from_file(&both)).starts_with("ensemble.me: give either"));
}

#[test]
fn member_ids_are_unique_and_a_participant_exists() {
    let duplicate =
        THREE_MEMBERS.replace("id = 3", "id = 2").replace("me_from_hostname = true", "me = 1");
    assert!(problem(from_file(&duplicate)).starts_with("ensemble.members[2].id: id 2 is used"));
    let observers =
        "[ensemble]\nme = 1\nmembers = [{ id = 1, peer_address = \"a:1\", role = \"observer\" }]\n";
    assert!(
        problem(from_file(observers))
            .starts_with("ensemble.members: at least one member must be a participant")
    );
}

#[test]
fn peer_tls_takes_all_three_files_or_none() {
    let with = |lines: &str| {
        from_file(&THREE_MEMBERS.replace("me_from_hostname = true", &format!("me = 1\n{lines}")))
    };
    let none = with("").unwrap();
    assert_eq!(none.server.ensemble.unwrap().peer_tls, None);
    let all = with(
        "peer_tls_cert_file = \"peer.pem\"\npeer_tls_key_file = \"peer.key\"\npeer_tls_ca_file = \"ca.pem\"",
    )
    .unwrap();
    let files = all.server.ensemble.unwrap().peer_tls.expect("peer TLS configured");
    assert_eq!(
        (files.cert.to_str(), files.key.to_str(), files.ca.to_str()),
        (Some("peer.pem"), Some("peer.key"), Some("ca.pem"))
    );
    let no_ca = with("peer_tls_cert_file = \"peer.pem\"\npeer_tls_key_file = \"peer.key\"");
    assert!(problem(no_ca).starts_with("ensemble.peer_tls_ca_file: missing"));
    let only_ca = with("peer_tls_ca_file = \"ca.pem\"");
    assert!(problem(only_ca).starts_with("ensemble.peer_tls_cert_file: missing"));
    let empty = with(
        "peer_tls_cert_file = \"\"\npeer_tls_key_file = \"peer.key\"\npeer_tls_ca_file = \"ca.pem\"",
    );
    assert!(problem(empty).starts_with("ensemble.peer_tls_cert_file: must not be empty"));
}

#[test]
fn tick_ms_is_bounded_at_both_ends() {
    let with_tick = |tick: u32| from_file(&format!("[server]\ntick_ms = {tick}\n"));
    assert!(problem(with_tick(0)).starts_with("server.tick_ms: must be 1..="));
    assert_eq!(with_tick(1).unwrap().server.tick_ms, 1);
    assert_eq!(with_tick(TICK_MS_MAX).unwrap().server.tick_ms, TICK_MS_MAX);
    assert!(problem(with_tick(TICK_MS_MAX + 1)).starts_with("server.tick_ms: "));
}

#[test]
fn packet_bytes_max_has_a_floor() {
    let with_limit = |bytes: usize| from_file(&format!("[server]\npacket_bytes_max = {bytes}\n"));
    assert!(problem(with_limit(PACKET_BYTES_MIN - 1)).starts_with("server.packet_bytes_max: "));
    assert_eq!(with_limit(PACKET_BYTES_MIN).unwrap().server.packet_bytes_max, PACKET_BYTES_MIN);
}

#[test]
fn zero_counts_and_inverted_session_bounds_are_rejected() {
    for key in ["connections_max", "snapshot_every_txns", "log_segment_bytes_max"] {
        let message = problem(from_file(&format!("[server]\n{key} = 0\n")));
        assert_eq!(message, format!("server.{key}: must be greater than 0"));
    }
    let inverted = "[server]\nsession_timeout_ms_min = 5000\nsession_timeout_ms_max = 4000\n";
    assert!(
        problem(from_file(inverted))
            .starts_with("server.session_timeout_ms_min: 5000 is more than")
    );
}

#[test]
fn ensemble_members_are_bounded() {
    let members = |count: usize| {
        let list: Vec<String> = (1..=count)
            .map(|id| format!("{{ id = {id}, peer_address = \"node-{id}:2888\" }}"))
            .collect();
        from_file(&format!("[ensemble]\nme = 1\nmembers = [{}]\n", list.join(", ")))
    };
    assert_eq!(
        members(ENSEMBLE_MEMBERS_MAX).unwrap().server.ensemble.unwrap().members.len(),
        ENSEMBLE_MEMBERS_MAX
    );
    assert!(
        problem(members(ENSEMBLE_MEMBERS_MAX + 1)).starts_with("ensemble.members: 256 members")
    );
    assert!(problem(members(0)).starts_with("ensemble.members: at least one member"));
}

#[test]
fn host_port_checks() {
    assert!(validate::check_host_port("herald-0.herald-peers.ns.svc.cluster.local:2888").is_ok());
    assert!(validate::check_host_port("[::1]:2888").is_ok());
    assert!(validate::check_host_port("host:0").is_err());
    assert!(validate::check_host_port("host:65536").is_err());
    assert!(validate::check_host_port(":2888").is_err());
    assert!(validate::check_host_port("host").is_err());
}

#[test]
fn the_printed_configuration_reads_back_the_same_and_hides_the_secret() {
    let with_secret = THREE_MEMBERS.replace("[ensemble]\n", "[ensemble]\nsecret = \"hunter2\"\n");
    let effective = resolve(&Sources {
        file_text: Some(&with_secret),
        hostname: Some("herald-1".into()),
        ..Sources::default()
    })
    .unwrap();
    let printed = render(&effective.file);
    assert!(!printed.contains("hunter2") && printed.contains(SECRET_MASK), "{printed}");
    let reread = from_file(&printed).unwrap();
    let mut expected = effective.file.clone();
    expected.ensemble.as_mut().unwrap().secret = Some(SECRET_MASK.into());
    assert_eq!(reread.file, expected);
    assert_eq!(reread.server.ensemble.unwrap().me, 2);
}

#[test]
fn every_key_is_in_the_operations_page() {
    let page = include_str!("../../../../docs/operations.md");
    let missing: Vec<String> = sections::all_keys()
        .into_iter()
        .filter(|key| !page.contains(&format!("`{key}`")))
        .collect();
    assert!(missing.is_empty(), "docs/operations.md lacks {missing:?}");
}

#[test]
fn the_key_lists_match_the_toml_shape() {
    // A key added to a section but not to its list would escape the doc check.
    let printed = toml::to_string(&FileConfig {
        ensemble: Some(sections::EnsembleSection {
            me: Some(1),
            me_from_hostname: true,
            peer_listen: sections::PEER_LISTEN_DEFAULT,
            secret: Some("x".into()),
            peer_tick_ms: 1,
            sync_diff_txns_max: 1,
            peer_tls_cert_file: Some("peer.pem".into()),
            peer_tls_key_file: Some("peer.key".into()),
            peer_tls_ca_file: Some("ca.pem".into()),
            members: vec![sections::MemberSection {
                id: 1,
                peer_address: "a:1".into(),
                client_address: Some("a:2".into()),
                role: sections::RoleName::Observer,
            }],
        }),
        server: sections::ServerSection {
            session_timeout_ms_min: Some(1),
            session_timeout_ms_max: Some(2),
            admin_listen: Some(server::config::ADMIN_LISTEN_DEFAULT),
            secure_client_listen: Some("127.0.0.1:2281".parse().unwrap()),
            tls_cert_file: Some("cert.pem".into()),
            tls_key_file: Some("key.pem".into()),
            tls_client_ca_file: Some("ca.pem".into()),
            ..sections::ServerSection::default()
        },
    })
    .unwrap();
    let table: toml::Table = toml::from_str(&printed).unwrap();
    let keys = |value: &toml::Value| -> Vec<String> {
        value.as_table().unwrap().keys().cloned().collect::<Vec<_>>()
    };
    let mut server_keys = keys(&table["server"]);
    let mut expected: Vec<String> =
        sections::ServerSection::KEYS.iter().map(|k| k.to_string()).collect();
    server_keys.sort();
    expected.sort();
    assert_eq!(server_keys, expected);
    let mut ensemble_keys = keys(&table["ensemble"]);
    let mut expected: Vec<String> = sections::ENSEMBLE_KEYS.iter().map(|k| k.to_string()).collect();
    ensemble_keys.sort();
    expected.sort();
    assert_eq!(ensemble_keys, expected);
    let mut member_keys = keys(&table["ensemble"]["members"][0]);
    let mut expected: Vec<String> = sections::MEMBER_KEYS.iter().map(|k| k.to_string()).collect();
    member_keys.sort();
    expected.sort();
    assert_eq!(member_keys, expected);
}

#[test]
fn override_values_are_toml_with_bare_strings_allowed() {
    assert_eq!(overrides::parse_value("500"), toml::Value::Integer(500));
    assert_eq!(overrides::parse_value("true"), toml::Value::Boolean(true));
    assert_eq!(overrides::parse_value("0.0.0.0:2181"), toml::Value::String("0.0.0.0:2181".into()));
    assert_eq!(overrides::parse_value("\"1234\""), toml::Value::String("1234".into()));
    assert_eq!(overrides::parse_value("hunter2"), toml::Value::String("hunter2".into()));
}
