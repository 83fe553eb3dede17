//! Real Postgres and nats-server, started once per test process on free ports, with data in a
//! temporary directory. A watchdog shell kills each server when the test process exits, so
//! nothing outlives `cargo test`.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tokio::sync::OnceCell;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Services {
    pub pg_port: u16,
    pub nats_port: u16,
    dir: PathBuf,
}

impl Services {
    /// The directory the servers' data lives in, removed with the test process.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The Postgres server's own pid (its backends are its children), from `postmaster.pid`.
    pub fn postgres_pid(&self) -> Option<u32> {
        first_line_pid(&self.dir.join("pg").join("postmaster.pid"))
    }

    pub fn nats_pid(&self) -> Option<u32> {
        first_line_pid(&self.dir.join("nats").join("pid"))
    }
}

fn first_line_pid(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file)
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

static SERVICES: OnceCell<Services> = OnceCell::const_new();

/// The process-wide Postgres + NATS pair (started on first use).
pub async fn services() -> &'static Services {
    SERVICES
        .get_or_init(|| async {
            tokio::task::spawn_blocking(start)
                .await
                .expect("services start")
        })
        .await
}

/// The services, once a stack has started them.
pub fn started() -> &'static Services {
    SERVICES
        .get()
        .expect("the test services are started with the first stack")
}

/// A free port for a server another process starts (Postgres, NATS, nginx, chromedriver, an
/// API): drawn outside Linux's ephemeral range (32768–60999), so that no `bind(0)` of this
/// process — a fake provider, an SSE client — can be handed the same port before that server
/// binds it (seen once: the tests' Postgres port taken by a fake HTTP server during `initdb`).
pub fn free_port() -> u16 {
    loop {
        let port = 10_000 + (uuid::Uuid::new_v4().as_u128() % 22_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start() -> Services {
    let dir = std::env::temp_dir().join(format!("sluice-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pg_port = free_port();
    start_postgres(&dir.join("pg"), pg_port);
    let nats_port = free_port();
    start_nats(&dir.join("nats"), nats_port);
    Services {
        pg_port,
        nats_port,
        dir,
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// Runs `cmd` as the `postgres` user when we are root (initdb and postgres refuse root).
fn as_pg_user(cmd: &str) -> Command {
    let mut c = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh", "-c", cmd]);
        c
    } else {
        let mut c = Command::new("sh");
        c.args(["-c", cmd]);
        c
    };
    c.stdin(Stdio::null());
    c
}

fn start_postgres(data: &Path, port: u16) {
    std::fs::create_dir_all(data).expect("pg dir");
    if is_root() {
        let parent = data.parent().expect("parent");
        chown_postgres(parent);
        chown_postgres(data);
    }
    let d = data.display();
    let init = as_pg_user(&format!(
        "{PG_BIN}/initdb -D {d} -U postgres -A trust --no-sync -E UTF8 >/dev/null"
    ))
    .status()
    .expect("run initdb");
    assert!(init.success(), "initdb failed");
    serve_postgres(data, port);
}

/// Starts a private Postgres stopped by `stop_postgres` again, on the same port and data.
pub fn restart_postgres(data: &Path, port: u16) {
    serve_postgres(data, port);
}

fn serve_postgres(data: &Path, port: u16) {
    let d = data.display();
    // fsync off: test databases are thrown away; durability is not what tests measure.
    // `BENCH_PG_STATS` (see `scripts/bench`) loads pg_stat_statements to count statements.
    let stats = match std::env::var_os("BENCH_PG_STATS") {
        Some(_) => {
            " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on"
        }
        None => "",
    };
    let server = format!(
        "{PG_BIN}/postgres -D {d} -p {port} -k {d} -c listen_addresses=127.0.0.1 -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=500{stats} \
         > {d}/log 2>&1"
    );
    spawn_watched(as_pg_user(&watchdog(&server, data)));
    wait_for_port(port, "postgres", &data.join("log"));
}

fn chown_postgres(path: &Path) {
    let _ = Command::new("chown")
        .args(["postgres:postgres", &path.display().to_string()])
        .status();
}

fn start_nats(data: &Path, port: u16) {
    std::fs::create_dir_all(data).expect("nats dir");
    let d = data.display();
    let bin = which_nats();
    let server = format!("{bin} -js -a 127.0.0.1 -p {port} -sd {d} > {d}/log 2>&1");
    // The pid file lets `stop_nats` stop this server without pkill.
    let script = watchdog(&server, data).replacen(
        "child=$!;",
        &format!("child=$!; echo $child > {d}/pid;"),
        1,
    );
    let mut c = Command::new("sh");
    c.args(["-c", &script]).stdin(Stdio::null());
    spawn_watched(c);
    wait_for_port(port, "nats-server", &data.join("log"));
}

fn which_nats() -> String {
    for p in [
        "/usr/sbin/nats-server",
        "/usr/bin/nats-server",
        "/usr/local/bin/nats-server",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!(
        "nats-server is not installed: run scripts/test (it installs it) or `apt-get install -y nats-server`"
    );
}

/// Wraps a server command so it dies with this test process, and its data directory with it
/// (and the directory above, once both servers' directories are gone): a test run leaves no
/// hundreds of megabytes behind in /tmp.
fn watchdog(server: &str, data: &Path) -> String {
    let me = std::process::id();
    let d = data.display();
    let parent = data.parent().expect("a data dir has a parent").display();
    format!(
        "{server} & child=$!; while [ -d /proc/{me} ]; do sleep 0.5; done; kill $child; wait $child; \
         rm -rf {d}; rmdir {parent} 2>/dev/null; true"
    )
}

/// Starts the watchdog shell; it is reaped by a thread so it never lingers as a zombie.
fn spawn_watched(mut c: Command) {
    let mut child = c
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    std::thread::spawn(move || child.wait());
}

fn wait_for_port(port: u16, what: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("{what} did not start on port {port}:\n{log}");
}

/// An nginx of the caller's own serving `config`, whose `listen` is `port`; it dies with this
/// test process. `config` keeps its files under `dir` (the directory this returns, made here:
/// `config` is given it to place them).
pub fn private_nginx(config: impl FnOnce(&Path) -> String, port: u16) -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("sluice-nginx-{}", uuid::Uuid::new_v4().simple()))
        .join("nginx");
    std::fs::create_dir_all(&dir).expect("nginx dir");
    std::fs::write(dir.join("nginx.conf"), config(&dir)).expect("nginx.conf");
    let d = dir.display();
    let bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx is not installed: run scripts/test (it installs it) or `apt-get install -y nginx-light`");
    let server = format!(
        "{bin} -p {d} -c {d}/nginx.conf -g 'daemon off; pid {d}/nginx.pid; error_log {d}/log;' \
         >> {d}/log 2>&1"
    );
    let mut c = Command::new("sh");
    c.args(["-c", &watchdog(&server, &dir)])
        .stdin(Stdio::null());
    spawn_watched(c);
    wait_for_port(port, "nginx", &dir.join("log"));
    dir
}

/// A nats-server of the caller's own (for tests that stop it). Returns its port and store.
pub fn private_nats() -> (u16, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sluice-nats-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    start_nats(&dir, port);
    (port, dir)
}

/// Starts a stopped private nats-server again, on the same port with the same store.
pub fn restart_nats(port: u16, dir: &Path) {
    start_nats(dir, port);
}

/// Stops a private nats-server (as an outage would) and waits until it is gone.
pub fn stop_nats(store: &Path) {
    let pid = store.join("pid");
    let _ = Command::new("sh")
        .args([
            "-c",
            &format!(
                "kill $(cat {}) && while kill -0 $(cat {}) 2>/dev/null; do sleep 0.05; done",
                pid.display(),
                pid.display()
            ),
        ])
        .status();
}

/// A Postgres of the caller's own (for tests that stop it). Returns its port and data dir.
pub fn private_postgres() -> (u16, PathBuf) {
    let dir = std::env::temp_dir().join(format!("sluice-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = free_port();
    let data = dir.join("pg");
    start_postgres(&data, port);
    (port, data)
}

/// Stops a private Postgres at once, as a crash would.
pub fn stop_postgres(data: &Path) {
    let _ = as_pg_user(&format!(
        "{PG_BIN}/pg_ctl -D {} stop -m immediate >/dev/null 2>&1",
        data.display()
    ))
    .status();
}
