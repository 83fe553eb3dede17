//! Folders and favorites: a conversation is in at most one of its owner's folders and may be
//! starred; the list filters by both; deleting a folder ungroups its conversations (they stay);
//! nobody reaches another user's folder; every open tab hears each change.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use sluice_testkit::{TestApp, sse::SseStream};

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> (u16, Value) {
    let r = app.call(token, method, path, Some(body)).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn folder(app: &TestApp, token: &str, name: &str) -> String {
    let (status, body) = call(
        app,
        token,
        Method::POST,
        "/api/groups",
        json!({ "name": name }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

/// The titles of the caller's conversations at `query` (`/api/conversations?…`).
async fn titles(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page = app
        .get_json(token, &format!("/api/conversations?{query}"))
        .await;
    let mut titles: Vec<String> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_string())
        .collect();
    titles.sort();
    titles
}

async fn titled(app: &TestApp, token: &str, title: &str) -> String {
    let (status, body) = call(
        app,
        token,
        Method::POST,
        "/api/conversations",
        json!({ "title": title }),
    )
    .await;
    assert_eq!(status, 201);
    body["id"].as_str().unwrap().to_string()
}

async fn patch(app: &TestApp, token: &str, id: &str, body: Value) -> (u16, Value) {
    call(
        app,
        token,
        Method::PATCH,
        &format!("/api/conversations/{id}"),
        body,
    )
    .await
}

#[tokio::test]
async fn conversations_go_into_one_folder_at_a_time_and_come_out_when_it_is_deleted() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.guest().await;
    let work = folder(&app, &ada, "Work").await;
    let home = folder(&app, &ada, "Home").await;
    let plan = titled(&app, &ada, "Quarterly plan").await;
    let garden = titled(&app, &ada, "Garden").await;
    titled(&app, &ada, "Loose thoughts").await;

    let (status, moved) = patch(&app, &ada, &plan, json!({ "group_id": work })).await;
    assert_eq!(status, 200);
    assert_eq!(moved["group_id"], json!(work));
    assert_eq!(moved["title"], "Quarterly plan", "the rest unchanged");
    patch(&app, &ada, &garden, json!({ "group_id": work })).await;
    // Moving again moves: one folder at a time.
    let (_, moved) = patch(&app, &ada, &garden, json!({ "group_id": home })).await;
    assert_eq!(moved["group_id"], json!(home));

    assert_eq!(
        titles(&app, &ada, &format!("group={work}")).await,
        ["Quarterly plan"]
    );
    assert_eq!(
        titles(&app, &ada, &format!("group={home}")).await,
        ["Garden"]
    );
    assert_eq!(titles(&app, &ada, "group=none").await, ["Loose thoughts"]);
    assert_eq!(
        titles(&app, &ada, "").await.len(),
        3,
        "no filter: all of them"
    );
    let folders = app.get_json(&ada, "/api/groups").await;
    let counts: Vec<(&str, i64)> = folders["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap(),
                g["conversations"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [("Home", 1), ("Work", 1)], "by name, with counts");

    // Renamed, and a taken name refused; out of a folder with null.
    let (status, renamed) = call(
        &app,
        &ada,
        Method::PATCH,
        &format!("/api/groups/{home}"),
        json!({ "name": "  House  " }),
    )
    .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("House")));
    let (status, body) = call(
        &app,
        &ada,
        Method::POST,
        "/api/groups",
        json!({ "name": "work" }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("group_exists"))
    );
    let (_, out) = patch(&app, &ada, &garden, json!({ "group_id": null })).await;
    assert_eq!(out["group_id"], Value::Null);

    // Deleting a folder keeps its conversations, out of any folder.
    let r = app
        .call(&ada, Method::DELETE, &format!("/api/groups/{work}"), None)
        .await;
    assert_eq!(r.status(), 204);
    let plan_now = app
        .get_json(&ada, &format!("/api/conversations/{plan}"))
        .await;
    assert_eq!(plan_now["group_id"], Value::Null);
    assert_eq!(plan_now["title"], "Quarterly plan");
    assert_eq!(titles(&app, &ada, "group=none").await.len(), 3);
    let r = app
        .call(&ada, Method::DELETE, &format!("/api/groups/{work}"), None)
        .await;
    assert_eq!(r.status(), 404, "already gone");
}

#[tokio::test]
async fn favorites_are_starred_listed_apart_and_kept_through_other_changes() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.guest().await;
    let a = titled(&app, &ada, "Alpha").await;
    titled(&app, &ada, "Beta").await;
    let (status, starred) = patch(&app, &ada, &a, json!({ "favorite": true })).await;
    assert_eq!((status, &starred["favorite"]), (200, &json!(true)));
    assert_eq!(titles(&app, &ada, "favorite=true").await, ["Alpha"]);
    assert_eq!(titles(&app, &ada, "favorite=false").await, ["Beta"]);
    // A rename leaves the star (and the folder) as they were.
    let (_, renamed) = patch(&app, &ada, &a, json!({ "title": "Alpha 2" })).await;
    assert_eq!(renamed["favorite"], true);
    let (_, unstarred) = patch(&app, &ada, &a, json!({ "favorite": false })).await;
    assert_eq!(unstarred["favorite"], false);
    assert!(titles(&app, &ada, "favorite=true").await.is_empty());
}

#[tokio::test]
async fn nobody_reaches_another_users_folder_and_bad_input_is_refused_in_words() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.guest().await;
    let bob = app.guest().await;
    let adas = folder(&app, &ada, "Private").await;
    let bobs_chat = titled(&app, &bob, "Bob's").await;

    // Bob cannot file his conversation in Ada's folder, rename it, delete it or list it.
    // Ada's folder is no folder of Bob's: 422, as an id naming nothing here.
    let (status, body) = patch(&app, &bob, &bobs_chat, json!({ "group_id": adas })).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("unknown_folder")),
        "{body}"
    );
    let (status, _) = call(
        &app,
        &bob,
        Method::PATCH,
        &format!("/api/groups/{adas}"),
        json!({ "name": "Mine now" }),
    )
    .await;
    assert_eq!(status, 404);
    let r = app
        .call(&bob, Method::DELETE, &format!("/api/groups/{adas}"), None)
        .await;
    assert_eq!(r.status(), 404);
    let bobs = app.get_json(&bob, "/api/groups").await;
    assert_eq!(bobs["items"], json!([]));
    assert!(
        titles(&app, &bob, &format!("group={adas}"))
            .await
            .is_empty()
    );
    let adas_now = app.get_json(&ada, "/api/groups").await;
    assert_eq!(adas_now["items"][0]["name"], "Private");

    for (body, code) in [
        (json!({ "name": "" }), "invalid_name"),
        (json!({ "name": "   " }), "invalid_name"),
        (json!({ "name": "evil\u{202e}txt" }), "invalid_name"),
        (json!({ "name": "line\nbreak" }), "invalid_name"),
        (json!({ "name": "x".repeat(101) }), "name_too_long"),
        (json!({ "name": 5 }), "invalid_body"),
        (json!({ "title": "no" }), "invalid_body"),
    ] {
        let (status, answer) = call(&app, &ada, Method::POST, "/api/groups", body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
    }
    for query in ["group=nowhere", "favorite=maybe"] {
        let r = app.get(&ada, &format!("/api/conversations?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
    }
    let mine = titled(&app, &ada, "Mine").await;
    let (status, _) = patch(&app, &ada, &mine, json!({ "favorite": "yes" })).await;
    assert_eq!(status, 400);
    let (status, _) = patch(&app, &ada, &mine, json!({ "group_id": "not-a-uuid" })).await;
    assert_eq!(status, 400);
    let (status, body) = patch(
        &app,
        &ada,
        &mine,
        json!({ "group_id": uuid::Uuid::now_v7() }),
    )
    .await;
    assert_eq!(status, 422, "an unknown folder: {body}");
    let unchanged = app
        .get_json(&ada, &format!("/api/conversations/{mine}"))
        .await;
    assert_eq!(unchanged["group_id"], Value::Null, "nothing half-done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_open_tab_hears_folders_made_renamed_and_deleted() {
    let app = TestApp::spawn_without_worker().await;
    let ada = app.guest().await;
    let mut feed = app.sse(&ada, "/api/events", None).await;
    let id = folder(&app, &ada, "Recipes").await;
    call(
        &app,
        &ada,
        Method::PATCH,
        &format!("/api/groups/{id}"),
        json!({ "name": "Cooking" }),
    )
    .await;
    app.call(&ada, Method::DELETE, &format!("/api/groups/{id}"), None)
        .await;
    let heard = named_events(&mut feed, 3).await;
    assert_eq!(heard[0].0, "group_created");
    assert_eq!(heard[0].1["group"]["name"], "Recipes");
    assert_eq!(heard[1].0, "group_updated");
    assert_eq!(heard[1].1["group"]["name"], "Cooking");
    assert_eq!(heard[2].0, "group_deleted");
    assert_eq!(heard[2].1["group_id"], json!(id));
}

async fn named_events(feed: &mut SseStream, n: usize) -> Vec<(String, Value)> {
    let mut heard = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while heard.len() < n {
            let event = feed.next().await.expect("the feed stays open");
            if !event.event.is_empty() && event.event != "message" {
                heard.push((event.event, event.data));
            }
        }
    })
    .await
    .expect("the events within 5 s");
    heard
}
