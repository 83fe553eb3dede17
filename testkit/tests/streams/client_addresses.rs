//! The client's real address behind a proxy (`trusted_proxies`), through the shipped nginx
//! configuration of the two-API variant: per-address limits count each client apart, the
//! devices list shows where each one signed in from, and a forged `X-Forwarded-For` from a peer
//! that is not a trusted proxy changes nothing.

use serde_json::Value;
use sluice_testkit::{TestApp, client_from, nginx};

/// A stack that trusts the loopback address nginx connects from, with room for 3 sign-ins per
/// address.
async fn behind_nginx() -> (TestApp, String) {
    let app = TestApp::spawn_configured(|c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        c.auth_rate_per_minute = 1;
        c.auth_burst = 3;
    })
    .await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let public = nginx::start(&[port, port]);
    (app, public)
}

async fn guest_sign_in(client: &reqwest::Client, base: &str, forged: Option<&str>) -> u16 {
    let mut request = client.post(format!("{base}/api/auth/guest"));
    if let Some(forged) = forged {
        request = request.header("x-forwarded-for", forged);
    }
    request.send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn behind_the_shipped_nginx_each_client_has_its_own_sign_in_limit() {
    let (_app, public) = behind_nginx().await;
    let (a, b) = (client_from(2), client_from(3));
    for _ in 0..3 {
        assert_eq!(guest_sign_in(&a, &public, None).await, 201);
    }
    assert_eq!(
        guest_sign_in(&a, &public, None).await,
        429,
        "the fourth sign-in from one address is limited"
    );
    // Another client behind the same proxy is not: it is another address.
    assert_eq!(guest_sign_in(&b, &public, None).await, 201);
    // The limited client cannot dodge its limit by claiming another address: nginx appends
    // the address it saw, and that is the hop believed.
    assert_eq!(guest_sign_in(&a, &public, Some("198.51.100.9")).await, 429);
}

#[tokio::test]
async fn the_devices_list_shows_the_address_behind_the_proxy() {
    let (_app, public) = behind_nginx().await;
    let client = client_from(7);
    let signed_in: Value = client
        .post(format!("{public}/api/auth/guest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signed_in["access_token"].as_str().unwrap();
    let sessions: Value = client
        .get(format!("{public}/api/auth/sessions"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sessions["items"][0]["ip"], "127.0.0.7", "{sessions}");
}

#[tokio::test]
async fn a_forged_forwarding_header_from_an_untrusted_peer_changes_nothing() {
    let (app, _public) = behind_nginx().await;
    // Straight to the API from 127.0.0.4, which is no trusted proxy.
    let client = client_from(4);
    for _ in 0..3 {
        assert_eq!(guest_sign_in(&client, &app.base, None).await, 201);
    }
    assert_eq!(
        guest_sign_in(&client, &app.base, Some("127.0.0.5")).await,
        429
    );
    let forwarded = client
        .post(app.url("/api/auth/guest"))
        .header("forwarded", "for=127.0.0.6")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 429);
    // ... and the addresses it named were never charged: they still have their whole budget.
    assert_eq!(guest_sign_in(&client_from(5), &app.base, None).await, 201);
}
