//! One answer is one trace: the API's request span, the worker's job span and its provider
//! call are linked, across the job's payload, and the `traceparent` reaches the provider and
//! the answer's NATS messages. Spans are collected in process (the OTLP exporter's place).

use std::time::Duration;

use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use sluice_shared::{config::LogFormat, telemetry};
use sluice_testkit::{TestApp, fake_openai::FakeOpenAi, with_fake_openai};

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

fn attribute(span: &SpanData, key: &str) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
        .unwrap_or_default()
}

// The default test runtime has one thread: the stack's tasks run where the collector is set.
#[tokio::test]
async fn one_chat_is_one_trace_across_api_worker_and_provider() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let collector = telemetry::subscriber(
        LogFormat::Text,
        std::io::sink,
        Some(provider.tracer("test")),
    );
    let _collecting = tracing::subscriber::set_default(collector);

    let fake = FakeOpenAi::start(5, Duration::from_millis(2)).await;
    let app = TestApp::spawn_with(with_fake_openai(&fake)).await;
    let token = app.guest().await;
    let conversation = app.create_conversation(&token).await;
    let sent = app.send_answered(&token, conversation, "trace me").await;
    let answer = sent.assistant_message.id;
    // The job's span ends after the answer's end is stored and published.
    sluice_testkit::wait::until(
        "the job's span ended",
        Duration::from_secs(10),
        || async { exporter.get_finished_spans().unwrap() },
        |spans| !named(spans, "chat_job").is_empty(),
    )
    .await;
    let spans = exporter.get_finished_spans().unwrap();

    let send = named(&spans, "request")
        .into_iter()
        .find(|s| attribute(s, "path").ends_with("/messages") && attribute(s, "method") == "POST")
        .expect("the send's request span");
    let trace: TraceId = send.span_context.trace_id();
    let job = named(&spans, "chat_job");
    assert_eq!(job.len(), 1, "one job span");
    let job = job[0];
    assert_eq!(
        job.span_context.trace_id(),
        trace,
        "the worker's job is in the request's trace"
    );
    assert!(
        job.parent_span_is_remote,
        "its parent came in the job's payload"
    );
    assert_ne!(job.parent_span_id, SpanId::INVALID);
    for stage in ["claim", "prepare", "conclude"] {
        let stage = named(&spans, stage);
        assert_eq!(stage.len(), 1, "one span per job stage");
        assert_eq!(stage[0].parent_span_id, job.span_context.span_id());
    }
    let calls = named(&spans, "provider_call");
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(call.span_context.trace_id(), trace);
        assert_eq!(
            call.parent_span_id,
            job.span_context.span_id(),
            "a child of the job"
        );
    }

    // The provider was told where its call sits in the trace.
    let sent_traceparent = fake.headers()[0]
        .get("traceparent")
        .expect("the provider request carries traceparent")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        sent_traceparent.contains(&trace.to_string()),
        "{sent_traceparent}"
    );

    // So do the answer's messages in NATS.
    let subjects = sluice_shared::subjects::Subjects::new(&app.config.nats_prefix);
    let stream = async_nats::jetstream::new(app.nats.clone())
        .get_stream(subjects.stream_name())
        .await
        .unwrap();
    let first = stream
        .direct_get_next_for_subject(subjects.message(conversation, answer), None)
        .await
        .unwrap();
    let header = first
        .headers
        .get("traceparent")
        .expect("traceparent on the event");
    assert!(
        header.as_str().contains(&trace.to_string()),
        "{}",
        header.as_str()
    );
}
