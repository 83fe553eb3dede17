//! The two-API variant's proxy, for tests through it (chaos, client addresses): nginx with
//! the shipped `deploy/two-apis/nginx.conf`, its compose service names replaced by the local
//! APIs' ports. So the configuration users deploy is the one that streams through the faults.

use crate::services;

const SHIPPED: &str = include_str!("../../deploy/two-apis/nginx.conf");

/// Starts nginx in front of the APIs on `api_ports` (`api`, `api2`); returns its base URL.
pub fn start(api_ports: &[u16]) -> String {
    start_logging(api_ports).0
}

/// Like `start`, and where its access log is.
pub fn start_logging(api_ports: &[u16]) -> (String, std::path::PathBuf) {
    let port = services::free_port();
    let dir = services::private_nginx(|dir| local_config(api_ports, port, dir), port);
    (format!("http://127.0.0.1:{port}"), dir.join("access.log"))
}

/// The shipped configuration, listening on `port` and keeping its files under `dir`.
fn local_config(api_ports: &[u16], port: u16, dir: &std::path::Path) -> String {
    let d = dir.display();
    let temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .map(|kind| format!("    {kind}_temp_path {d}/{kind};\n"))
        .concat();
    [
        (
            "server api:8080 ",
            format!("server 127.0.0.1:{} ", api_ports[0]),
        ),
        (
            "server api2:8080 ",
            format!("server 127.0.0.1:{} ", api_ports[1]),
        ),
        ("listen 8080;", format!("listen 127.0.0.1:{port};")),
        (
            "access_log /var/log/nginx/access.log sluice;",
            format!("access_log {d}/access.log sluice;"),
        ),
        ("http {\n", format!("http {{\n{temp}")),
    ]
    .into_iter()
    .fold(SHIPPED.to_string(), |config, (shipped, local)| {
        assert!(
            config.contains(shipped),
            "deploy/two-apis/nginx.conf no longer has `{shipped}`"
        );
        config.replacen(shipped, &local, 1)
    })
}
