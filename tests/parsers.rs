//! No input panics: the query, selector, duration, time and template parsers fed random
//! and hostile text through `Settings::resolve`, as the command line would.

use clap::Parser;
use ktail::Settings;
use ktail::cli::Args;
use ktail::cli::Env;
use proptest::prelude::*;

/// Resolves `argv`; any outcome but a panic is fine, and an error is one clear line.
fn resolve(argv: &[String]) {
    let Ok(args) =
        Args::try_parse_from(std::iter::once("ktail".to_string()).chain(argv.iter().cloned()))
    else {
        return;
    };
    if let Err(e) = Settings::resolve(&args, &Env::default()) {
        let msg = e.to_string();
        assert!(!msg.is_empty() && !msg.contains('\n'), "{msg:?}");
        assert!(
            matches!(e.exit_code(), 2 | 3 | 6),
            "{msg:?} → {}",
            e.exit_code()
        );
    }
}

/// Text a user might type, with the characters that matter to each parser.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/=!(),.*+?\\[\\]{}|^$ :-]{0,24}",
        any::<String>(),
        Just(String::new()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn queries_and_regexes(q in text(), c in text(), e in text()) {
        resolve(&["--".into(), q.clone()]);
        resolve(&["x".into(), "-c".into(), c, "-E".into(), e.clone(), "-i".into(), e.clone(), "-H".into(), e]);
        resolve(&["--namespace-regex".into(), q, "x".into()]);
    }

    #[test]
    fn durations_times_and_zones(d in text(), t in text(), z in text()) {
        resolve(&["x".into(), "--since".into(), d]);
        resolve(&["x".into(), "--since-time".into(), t]);
        resolve(&["x".into(), "--timezone".into(), z.clone(), "-t".into()]);
        resolve(&["x".into(), "--condition".into(), z.clone(), "--no-follow".into()]);
        resolve(&["x".into(), "--container-state".into(), z]);
    }

    #[test]
    fn selectors_and_templates(s in text(), t in text()) {
        // Selectors go to the API server, which answers a bad one with a 400 (exit 2,
        // tested against the simulator); locally they must pass through untouched.
        resolve(&["-l".into(), s.clone()]);
        resolve(&["--field-selector".into(), s, "--node".into(), t.clone()]);
        resolve(&["x".into(), "--template".into(), t]);
    }
}

#[test]
fn hostile_resource_queries() {
    for q in [
        "/",
        "//",
        "deploy/",
        "/web",
        "deploy/a/b",
        "DEPLOY/web",
        "pod/",
        "pod/x/y",
        "ø/ø",
        "svc/\u{0}",
    ] {
        resolve(&[q.to_string()]);
    }
}
