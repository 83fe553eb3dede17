use serde_json::json;

use super::*;

fn config() -> Config {
    Config::default()
}

fn error(body: Value) -> (u16, Option<String>) {
    let e = parse(body, &config()).unwrap_err();
    (e.status.as_u16(), e.param)
}

#[test]
fn a_whole_chat_is_read_into_system_history_and_question() {
    let r = parse(
        json!({
            "model": "demo",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": "Hello."},
                {"role": "developer", "content": "No emoji."},
                {"role": "user", "content": "And now?"}
            ],
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_completion_tokens": 100,
            "temperature": 0.5,
            "top_p": 0.9,
            "stop": "END",
            "user": "u-1",
            "metadata": {"app": "test"},
            "n": 1
        }),
        &config(),
    )
    .unwrap();
    assert_eq!(r.system, "Be brief.\n\nNo emoji.");
    assert_eq!(
        r.history,
        [
            Turn {
                role: "user",
                content: "Hi".into()
            },
            Turn {
                role: "assistant",
                content: "Hello.".into()
            }
        ]
    );
    assert_eq!(r.question, "And now?");
    assert!(r.stream && r.include_usage);
    assert_eq!(
        r.options,
        GenerationOptions {
            temperature: Some(0.5),
            top_p: Some(0.9),
            stop: vec!["END".into()],
            max_tokens: Some(100),
        }
    );
}

#[test]
fn what_the_server_cannot_do_is_refused_naming_the_field() {
    let base = |extra: Value| {
        let mut b = json!({"model": "demo", "messages": [{"role": "user", "content": "x"}]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let cases = [
        (json!({"n": 2}), 400, "n"),
        (json!({"tools": [{"type": "function"}]}), 400, "tools"),
        (json!({"modalities": ["text", "audio"]}), 400, "modalities"),
        (json!({"seed": 7}), 400, "seed"),
        (json!({"frobnicate": true}), 400, "frobnicate"),
        (json!({"temperature": 3}), 400, "temperature"),
        (json!({"max_tokens": 0}), 400, "max_tokens"),
        (json!({"max_tokens": 5000}), 400, "max_tokens"),
        (json!({"stop": ["a", "b", "c", "d", "e"]}), 400, "stop"),
        (
            json!({"stream_options": {"include_usage": true}}),
            400,
            "stream_options",
        ),
        (json!({"model": "gpt-9"}), 404, "model"),
    ];
    for (extra, status, param) in cases {
        assert_eq!(
            error(base(extra.clone())),
            (status, Some(param.into())),
            "{extra}"
        );
    }
    // The values that mean "not used" are fine.
    let fine = json!({"tools": [], "modalities": ["text"], "n": 1, "presence_penalty": 0,
                      "response_format": {"type": "text"}, "logprobs": false});
    assert!(parse(base(fine), &config()).is_ok());
}

#[test]
fn bad_messages_are_refused_naming_the_message() {
    let cases = [
        (json!([]), "messages"),
        (
            json!([{"role": "wizard", "content": "x"}]),
            "messages[0].role",
        ),
        (
            json!([{"role": "tool", "content": "x"}]),
            "messages[0].role",
        ),
        (
            json!([{"role": "user", "content": [{"type": "image_url"}]}]),
            "messages[0].content[0].type",
        ),
        (
            json!([{"role": "user", "content": 5}]),
            "messages[0].content",
        ),
        (
            json!([{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]),
            "messages",
        ),
    ];
    for (messages, param) in cases {
        let body = json!({"model": "demo", "messages": messages});
        assert_eq!(error(body).1, Some(param.into()), "{messages}");
    }
    let long = "x".repeat(config().max_message_chars + 1);
    let body = json!({"model": "demo", "messages": [{"role": "user", "content": long}]});
    assert_eq!(error(body), (413, Some("messages[0].content".into())));
}

#[test]
fn every_accepted_field_is_checked_for_type_and_range_as_openai_checks_it() {
    let base = |extra: Value| {
        let mut b = json!({"model": "demo", "messages": [{"role": "user", "content": "x"}]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let code = |body: Value| {
        let e = parse(body, &config()).unwrap_err();
        (e.status.as_u16(), e.param, e.code)
    };
    let cases = [
        (
            json!({"max_completion_tokens": 10, "max_tokens": -5}),
            "max_tokens",
            "integer_below_min_value",
        ),
        (
            json!({"max_completion_tokens": 10, "max_tokens": "abc"}),
            "max_tokens",
            "invalid_type",
        ),
        (json!({"max_tokens": 1.5}), "max_tokens", "invalid_type"),
        (
            json!({"max_completion_tokens": -1}),
            "max_completion_tokens",
            "integer_below_min_value",
        ),
        (json!({"user": 12345}), "user", "invalid_type"),
        (json!({"user": {}}), "user", "invalid_type"),
        (json!({"store": "yes"}), "store", "invalid_type"),
        (
            json!({"parallel_tool_calls": "x"}),
            "parallel_tool_calls",
            "invalid_type",
        ),
        (
            json!({"stream": true, "stream_options": {"include_usage": "yes"}}),
            "stream_options.include_usage",
            "invalid_type",
        ),
        (json!({"stream": "yes"}), "stream", "invalid_type"),
        (json!({"temperature": "hot"}), "temperature", "invalid_type"),
        (json!({"top_p": 2}), "top_p", "decimal_above_max_value"),
        (json!({"n": "two"}), "n", "invalid_type"),
        (json!({"model": 7}), "model", "invalid_type"),
    ];
    for (extra, param, expected) in cases {
        let (status, got_param, got_code) = code(base(extra.clone()));
        assert_eq!(
            (status, got_param.as_deref(), got_code.as_deref()),
            (400, Some(param), Some(expected)),
            "{extra}"
        );
    }
    let fine = json!({"user": "u-1", "store": false, "parallel_tool_calls": true,
                      "stream": true, "stream_options": {"include_usage": false, "include_obfuscation": true}});
    assert!(parse(base(fine), &config()).is_ok());
}

#[test]
fn a_system_prompt_over_the_documented_cap_is_refused() {
    let long = "s".repeat(crate::validate::MAX_SYSTEM_PROMPT_CHARS - 10);
    let body = json!({"model": "demo", "messages": [
        {"role": "system", "content": long},
        {"role": "developer", "content": "twenty more characters"},
        {"role": "user", "content": "x"}
    ]});
    let e = parse(body, &config()).unwrap_err();
    assert_eq!(
        (e.status.as_u16(), e.param.as_deref(), e.code.as_deref()),
        (
            400,
            Some("messages[1].content"),
            Some("string_above_max_length")
        )
    );
}

#[test]
fn an_unknown_model_with_a_huge_name_is_named_shortened() {
    let name = "m".repeat(4000);
    let body = json!({"model": name, "messages": [{"role": "user", "content": "x"}]});
    let e = parse(body, &config()).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("model_not_found"));
    assert!(e.message.len() < 300, "{}", e.message);
    assert!(e.message.contains(&"m".repeat(100)));
}

#[test]
fn the_system_prompt_cap_counts_what_is_stored_joiners_included() {
    let half = "s".repeat(crate::validate::MAX_SYSTEM_PROMPT_CHARS / 2);
    let body = |first: &str| {
        json!({"model": "demo", "messages": [
            {"role": "system", "content": first},
            {"role": "system", "content": half},
            {"role": "user", "content": "x"}
        ]})
    };
    // 10,000 + "\n\n" + 10,000 is 20,002 stored characters: over.
    assert_eq!(error(body(&half)).1.as_deref(), Some("messages[1].content"));
    // Two fewer fit exactly.
    let shorter = "s".repeat(crate::validate::MAX_SYSTEM_PROMPT_CHARS / 2 - 2);
    let r = parse(body(&shorter), &config()).unwrap();
    assert_eq!(
        r.system.chars().count(),
        crate::validate::MAX_SYSTEM_PROMPT_CHARS
    );
}

/// The fields the document describes are exactly the fields the parser accepts.
#[test]
fn the_documented_request_has_exactly_the_known_fields() {
    let schema = <crate::v1::schema::ChatCompletionRequest as utoipa::PartialSchema>::schema();
    let schema = serde_json::to_value(schema).unwrap();
    let mut documented: Vec<&str> = schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    documented.sort_unstable();
    let mut known = super::KNOWN.to_vec();
    known.sort_unstable();
    assert_eq!(documented, known);
}

#[test]
fn client_text_quoted_in_an_error_is_cut_short() {
    let long = "z".repeat(5000);
    let mut body = json!({"model": "demo", "messages": [{"role": "user", "content": "x"}]});
    body[long.as_str()] = json!(1);
    let e = parse(body, &config()).unwrap_err();
    assert!(e.message.len() < 300 && e.param.as_ref().unwrap().len() < 300);
    let body = json!({"model": "demo", "messages": [{"role": long, "content": "x"}]});
    assert!(parse(body, &config()).unwrap_err().message.len() < 300);
}
