//! The configuration's checks, and `sluice.example.toml` kept equal to the compiled defaults.

mod defaults {
    use super::super::*;

    fn with_secret() -> Config {
        Config {
            jwt_secret: SecretString::from("x".repeat(32)),
            ..Config::default()
        }
    }

    #[test]
    fn defaults_need_only_a_jwt_secret() {
        assert!(Config::default().validated().is_err());
        assert!(with_secret().validated().is_ok());
    }

    #[test]
    fn an_unknown_default_model_is_named_in_the_error() {
        let c = Config {
            default_model: "gpt-9".into(),
            ..with_secret()
        };
        let err = c.validated().unwrap_err().to_string();
        assert!(err.contains("gpt-9"), "{err}");
    }

    #[test]
    fn admin_emails_come_as_a_list_or_comma_separated() {
        let from_env: Config = Figment::from(Serialized::defaults(with_secret()))
            .merge(("admin_emails", " Ada@Example.com, bob@example.com ,"))
            .extract()
            .unwrap();
        assert_eq!(
            from_env.admin_emails,
            ["ada@example.com", "bob@example.com"]
        );
        let from_toml: Config = Figment::from(Serialized::defaults(with_secret()))
            .merge(("admin_emails", vec!["Ada@Example.com"]))
            .extract()
            .unwrap();
        assert_eq!(from_toml.admin_emails, ["ada@example.com"]);
    }

    #[test]
    fn a_worker_lease_under_a_second_is_refused() {
        let mut c = with_secret();
        c.worker.heartbeat_ms = 200;
        c.worker.missed_heartbeats = 3;
        let err = c.validated().unwrap_err().to_string();
        assert!(err.contains("600 ms"), "{err}");
    }

    #[test]
    fn proxies_and_origins_come_checked() {
        let from_env: Config = Figment::from(Serialized::defaults(with_secret()))
            .merge(("trusted_proxies", "10.0.0.0/8, 127.0.0.1"))
            .extract()
            .unwrap();
        let proxies: Vec<String> = from_env
            .trusted_proxies
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "127.0.0.1/32"]);
        let bad: Result<Config, _> = Figment::from(Serialized::defaults(with_secret()))
            .merge(("trusted_proxies", "nginx"))
            .extract();
        assert!(bad.unwrap_err().to_string().contains("nginx"));
        for origin in ["*", "https://app.example.com/path", "app.example.com"] {
            let mut c = with_secret();
            c.cors.allowed_origins = vec![origin.into()];
            assert!(c.validated().is_err(), "{origin}");
        }
        let mut c = with_secret();
        c.cors.allowed_origins = vec!["https://app.example.com:8443".into()];
        assert!(c.validated().is_ok());
    }

    #[test]
    fn secrets_never_serialize() {
        let json = serde_json::to_string(&with_secret()).unwrap();
        assert!(!json.contains("xxxxxxxx"), "{json}");
    }

    /// Every secret set, each to its own value.
    fn with_every_secret() -> Config {
        let mut c = with_secret();
        c.database_url = SecretString::from("postgres://u:database-secret@h/db");
        c.github.client_secret = Some(SecretString::from("github-secret"));
        c.google.client_secret = Some(SecretString::from("google-secret"));
        c.openai.api_key = Some(SecretString::from("openai-secret"));
        c.anthropic.api_key = Some(SecretString::from("anthropic-secret"));
        c.gemini.api_key = Some(SecretString::from("gemini-secret"));
        c.secrets.master_key = Some(SecretString::from(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        ));
        c.secrets.master_key_id = "two".into();
        c.secrets.retired_master_keys = vec![SecretString::from(
            "one:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        )];
        c
    }

    /// The `SLUICE_*` names of every key that serializes redacted.
    fn redacted_keys(value: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map {
                    let path = if path.is_empty() {
                        key.clone()
                    } else {
                        format!("{path}__{key}")
                    };
                    redacted_keys(v, &path, out);
                }
            }
            serde_json::Value::String(s) if s == "[redacted]" => {
                out.push(format!("SLUICE_{}", path.to_uppercase()));
            }
            _ => {}
        }
    }

    #[test]
    fn secrets_as_env_names_exactly_the_redacted_keys() {
        let config = with_every_secret();
        let mut redacted = Vec::new();
        redacted_keys(&serde_json::to_value(&config).unwrap(), "", &mut redacted);
        redacted.sort();
        let mut named: Vec<String> = config
            .secrets_as_env()
            .into_iter()
            .map(|(name, _)| name.to_string())
            .collect();
        named.sort();
        assert_eq!(named, redacted);
    }

    /// A process handed a configuration as a file plus `secrets_as_env` loads exactly it.
    #[test]
    fn a_config_written_as_a_file_with_its_secrets_loads_back_the_same() {
        let mut config = with_every_secret();
        config.worker.concurrency = 3;
        config.demo.reply_tokens = 7;
        config.admin_emails = vec!["ada@example.com".into()];
        config.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
        let file = std::env::temp_dir().join(format!("sluice-{}.toml", std::process::id()));
        std::fs::write(&file, toml::to_string(&config).unwrap()).unwrap();
        let mut figment = Config::figment(&file);
        for (name, value) in config.secrets_as_env() {
            let key = name
                .trim_start_matches("SLUICE_")
                .to_lowercase()
                .replace("__", ".");
            figment = figment.merge((key, value));
        }
        let loaded: Config = figment.extract().unwrap();
        std::fs::remove_file(&file).unwrap();
        let json = |c: &Config| serde_json::to_value(c).unwrap();
        assert_eq!(json(&loaded), json(&config));
        assert_eq!(loaded.secrets_as_env(), config.secrets_as_env());
    }
}

mod example_file {
    use super::super::*;
    use serde_json::Value;

    fn example_path() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sluice.example.toml")
    }

    /// Every key path with a value (`worker.concurrency`); `null` ones (an unset optional
    /// key, which TOML cannot write) are left out.
    fn key_paths(value: &Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    key_paths(v, &format!("{prefix}{key}."), out);
                }
            }
            Value::Null => {}
            _ => {
                out.insert(prefix.trim_end_matches('.').to_string());
            }
        }
    }

    /// `sluice.example.toml` documents every key with its default: it must parse to exactly
    /// the compiled-in defaults, so the two cannot drift apart.
    #[test]
    fn the_example_file_matches_the_defaults() {
        let from_file: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(example_path()))
            .extract()
            .expect("example parses");
        let a = serde_json::to_value(&from_file).unwrap();
        let b = serde_json::to_value(Config::default()).unwrap();
        assert_eq!(a, b);
    }

    /// ... and it names every key: a default missing from the file (which the test above cannot
    /// see, the defaults filling it in) fails here, as does a key the program does not know.
    #[test]
    fn the_example_file_names_every_key_and_only_known_ones() {
        let file: Value = Figment::from(Toml::file(example_path()))
            .extract()
            .expect("example parses");
        let mut in_file = std::collections::BTreeSet::new();
        key_paths(&file, "", &mut in_file);
        let mut compiled = std::collections::BTreeSet::new();
        let defaults = serde_json::to_value(Config::default()).unwrap();
        key_paths(&defaults, "", &mut compiled);
        // No default works for it: the file shows it commented out, to be set.
        const SET_BY_OPERATOR: &[&str] = &["jwt_secret"];
        let missing: Vec<_> = compiled
            .difference(&in_file)
            .filter(|k| !SET_BY_OPERATOR.contains(&k.as_str()))
            .collect();
        let unknown: Vec<_> = in_file.difference(&compiled).collect();
        assert!(
            missing.is_empty(),
            "defaults not in sluice.example.toml: {missing:?}"
        );
        assert!(
            unknown.is_empty(),
            "keys the program does not know: {unknown:?}"
        );
    }
}
