//! The `switchyard` command: `demo`, `run`, `check`, `status` and
//! `plugin new`. This is the binary's
//! edge, where errors become messages and exit codes.
//!
//! Exit codes: 0 success; 1 the proxy failed at run time (e.g. a port could
//! not be bound); 2 the configuration has problems (each printed with file,
//! line and field); 130 stopped by a second Ctrl-C.

#![warn(clippy::disallowed_methods)]

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use switchyard::config::{Config, ProblemList};
use switchyard::demo::{Demo, DemoPorts};
use switchyard::plugin::PluginEngine;
use switchyard::prepare::prepare;
use switchyard::report::Report;
use switchyard::running::{RunningProxy, StartError};
use switchyard::scaffold::{self, Language};
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc (see `switchyard::allocator`).
#[global_allocator]
static ALLOCATOR: switchyard::allocator::Mimalloc = switchyard::allocator::Mimalloc;

#[derive(Parser)]
#[command(
    name = "switchyard",
    version,
    about = "A reverse proxy and load balancer whose every decision is a WebAssembly plugin"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the lab on loopback: two origins, an ACME stand-in, a
    /// self-signed certificate, and the proxy with the default plugins.
    Demo {
        /// Plain-HTTP listener.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// HTTPS listener.
        #[arg(long, default_value = "127.0.0.1:8443")]
        https: SocketAddr,
    },
    /// Run the proxy from a configuration file.
    Run {
        /// The TOML configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Check a configuration file: parse, validate, load certificates,
    /// compile and initialise every plugin. Prints every problem; exits 2 if
    /// there is any.
    Check {
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Plugin projects.
    Plugin {
        #[command(subcommand)]
        command: PluginCommand,
    },
    /// Print a running proxy's status from its admin endpoint: generation,
    /// each plugin's version and last error, certificates, last reload, a
    /// reload in progress. Exits 3 when the last reload was rejected. With
    /// --ready, whether it can serve (for keepalived and probes): exits 0
    /// when ready, 1 when not ready or unreachable.
    Status {
        /// The admin endpoint's address (default: from `-c`, else
        /// 127.0.0.1:9901).
        #[arg(long)]
        admin: Option<SocketAddr>,
        /// The proxy's configuration file: the admin address and token
        /// are read from its `[admin]` section.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// The admin token (also `SWITCHYARD_ADMIN_TOKEN`).
        #[arg(long)]
        token: Option<String>,
        /// Only whether the proxy is ready to serve (`GET /health`: listeners
        /// bound, no stop under way, a healthy server in each listener's
        /// default backend); exit 0 ready, 1 not.
        #[arg(long)]
        ready: bool,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Create a plugin project: source, build.sh, a config to try it and an
    /// end-to-end test.sh, for the language's public toolchain.
    New {
        /// The language of the plugin.
        #[arg(long, value_enum)]
        lang: Language,
        /// The plugin's name: lower case, digits and dashes (my-router).
        name: String,
        /// Where to create it (default: ./NAME); must be empty or absent.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Run a plugin against the requests described in a test file, without
    /// a proxy, and check its decisions against the expectations written
    /// beside them. Exits 1 if a case fails, 2 if the file or the plugin
    /// cannot be used.
    Test {
        /// The plugin component (.wasm).
        plugin: PathBuf,
        /// The test file (TOML, `[[case]]` tables; default plugin-test.toml).
        #[arg(default_value = "plugin-test.toml")]
        cases: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `run` reads its configuration first: it may set the log level.
    let loaded = match &cli.command {
        Command::Run { config } => Some(Config::load(config)),
        _ => None,
    };
    let configured = loaded
        .as_ref()
        .and_then(|l| l.as_ref().ok())
        .and_then(|c| c.log_level.clone());
    let filter = EnvFilter::try_from_default_env()
        .ok()
        .or_else(|| configured.and_then(|level| EnvFilter::try_new(level).ok()))
        .unwrap_or_else(|| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let result = match cli.command {
        Command::Check { config } => return check(&config),
        Command::Run { .. } => match loaded {
            Some(Ok(config)) => run(config),
            Some(Err(error)) => {
                eprintln!("{}", Report(&error));
                return ExitCode::from(2);
            }
            // Loaded above for every `run`.
            None => return ExitCode::FAILURE,
        },
        Command::Demo { http, https } => demo(DemoPorts { http, https }),
        Command::Status {
            admin,
            config,
            token,
            ready,
        } => status(admin, config.as_deref(), token, ready),
        Command::Plugin {
            command: PluginCommand::New { lang, name, dir },
        } => return new_plugin(lang, &name, dir),
        Command::Plugin {
            command: PluginCommand::Test { plugin, cases },
        } => return test_plugin(&plugin, &cases),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchyard: {error:#}");
            match error.downcast_ref::<StartError>() {
                Some(StartError::Problems(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn new_plugin(lang: Language, name: &str, dir: Option<PathBuf>) -> ExitCode {
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    match scaffold::new_plugin(lang, name, &dir) {
        Ok(files) => {
            for file in files {
                println!("created {}", file.display());
            }
            println!(
                "next: cd {} && ./build.sh && ./test.sh   (README.md says what to install)",
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("switchyard: {}", Report(&error));
            ExitCode::from(2)
        }
    }
}

fn test_plugin(plugin: &std::path::Path, cases: &std::path::Path) -> ExitCode {
    // The default cache, so `switchyard run` afterwards finds it compiled.
    let engine = match PluginEngine::with_cache(&switchyard::config::CacheSetting::Default) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("switchyard: {}", Report(&error));
            return ExitCode::FAILURE;
        }
    };
    match switchyard::plugin_test::run(&engine, plugin, cases) {
        Ok(summary) => {
            print!("{}", summary.report);
            println!(
                "{} case(s), {} failed ({})",
                summary.cases,
                summary.failed,
                cases.display()
            );
            if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("switchyard: {}", Report(&error));
            ExitCode::from(2)
        }
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{}", Report(&error));
            return ExitCode::from(2);
        }
    };
    let engine = match PluginEngine::with_cache(&config.plugin_cache) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("switchyard: {}", Report(&error));
            return ExitCode::FAILURE;
        }
    };
    match prepare(&config, &engine) {
        Ok(_) => {
            println!(
                "{}: configuration is valid ({} listeners, {} backends, {} plugins)",
                path.display(),
                config.listeners.len(),
                config.backends.len(),
                config.plugins.len()
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!(
                "{} has {} problem(s):\n{}",
                path.display(),
                problems.len(),
                ProblemList(&problems)
            );
            ExitCode::from(2)
        }
    }
}

fn run(mut config: Config) -> anyhow::Result<ExitCode> {
    // One worker per CPU unless the configuration says.
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    config.workers = Some(config.workers.unwrap_or(cpus));
    let runtime = runtime()?;
    runtime.block_on(async {
        // Before anything listens: a signal from then on is handled.
        let signals = Signals::install()?;
        let engine = PluginEngine::with_cache(&config.plugin_cache)?;
        let proxy = RunningProxy::start(config, engine).await?;
        serve_until_signal(proxy, signals).await
    })
}

fn demo(ports: DemoPorts) -> anyhow::Result<ExitCode> {
    let runtime = runtime()?;
    runtime.block_on(async {
        let signals = Signals::install()?;
        let engine = PluginEngine::new()?;
        let demo = Demo::start(ports, Arc::clone(&engine)).await.context(
            "could not start the demo (if a port is taken, choose others: \
             switchyard demo --http 127.0.0.1:PORT --https 127.0.0.1:PORT)",
        )?;
        println!("{}", demo.guide());
        let Demo { proxy, .. } = demo;
        serve_until_signal(proxy, signals).await
    })
}

fn status(
    admin: Option<SocketAddr>,
    config: Option<&std::path::Path>,
    token: Option<String>,
    ready: bool,
) -> anyhow::Result<ExitCode> {
    use switchyard::admin::client;
    let token = token.or_else(|| std::env::var("SWITCHYARD_ADMIN_TOKEN").ok());
    let (address, token) = match (admin, config) {
        (Some(address), _) => (address, token),
        (None, Some(path)) => {
            let config = match Config::load(path) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("{}", Report(&error));
                    return Ok(ExitCode::from(2));
                }
            };
            let Some(admin) = config.admin else {
                anyhow::bail!(
                    "{} has no [admin] section, so the proxy serves no status; add one, for example:\n\n[admin]\nbind = \"127.0.0.1:9901\"",
                    path.display()
                );
            };
            if admin.bind.port() == 0 {
                anyhow::bail!(
                    "{}'s [admin] bind has port 0, chosen when the proxy starts: pass --admin with the address it logged",
                    path.display()
                );
            }
            (admin.bind, token.or(admin.token))
        }
        (None, None) => (SocketAddr::from(([127, 0, 0, 1], 9901)), token),
    };
    let runtime = runtime()?;
    if ready {
        return match runtime.block_on(client::fetch_readiness(address)) {
            Ok(readiness) => {
                print!("{}", client::render_readiness(&readiness));
                Ok(if readiness.ready {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                })
            }
            Err(error) => {
                println!("not ready: {}", Report(&error));
                Ok(ExitCode::FAILURE)
            }
        };
    }
    let status = runtime.block_on(client::fetch_status(address, token.as_deref()))?;
    print!("{}", client::render_status(&status, now_secs()));
    if client::last_reload_rejected(&status) {
        return Ok(ExitCode::from(client::REJECTED_EXIT));
    }
    Ok(ExitCode::SUCCESS)
}

/// Seconds since the Unix epoch.
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The async runtime of worker 0, tokio's single-threaded scheduler (no
/// work-stealing queues, no cross-thread wake-ups: fewer instructions per
/// request, see docs/performance.md). More workers are runtimes of their
/// own, on threads the proxy starts (`worker.rs`).
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The signals the proxy answers, listened for from before it binds.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            hangup: signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?,
        })
    }
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully; a second
/// SIGINT exits at once. SIGHUP reloads the configuration.
async fn serve_until_signal(proxy: RunningProxy, mut signals: Signals) -> anyhow::Result<ExitCode> {
    loop {
        tokio::select! {
            _ = signals.interrupt.recv() => break,
            _ = signals.terminate.recv() => break,
            _ = signals.hangup.recv() => {
                // The outcome is logged and kept in the status.
                let _ = proxy.reloader().reload_config("SIGHUP").await;
            }
        }
    }
    let handover = proxy.proxy().generation().config.limits.handover_delay;
    match handover.is_zero() {
        true => tracing::info!("shutting down: no new connections, open ones may finish"),
        false => {
            tracing::info!(handover = ?handover, "shutting down: handover first (not ready, still accepting), then no new connections")
        }
    }
    tokio::select! {
        _ = proxy.stop() => Ok(ExitCode::SUCCESS),
        _ = signals.interrupt.recv() => {
            tracing::warn!("second interrupt: exiting now");
            Ok(ExitCode::from(130))
        }
    }
}
