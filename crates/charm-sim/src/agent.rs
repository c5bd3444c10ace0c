//! The unit agent side of the hook tools: a unix-socket server answering tool calls from the
//! shared `World` (like Juju's jujuc server), and the client `charm-sim-jujuc` runs when started
//! under a tool name.
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::tools::{ToolOutput, run_tool};
use crate::world::World;

/// One tool call as sent over the socket.
#[derive(Debug, Serialize, Deserialize)]
pub struct ToolRequest {
    pub context_id: String,
    /// argv[0] is the tool name (basename).
    pub argv: Vec<String>,
    pub cwd: String,
    pub stdin: Vec<u8>,
}

/// Serves tool calls until dropped.
pub struct AgentServer {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AgentServer {
    pub fn start(path: &Path, world: Arc<Mutex<World>>) -> std::io::Result<AgentServer> {
        let listener = UnixListener::bind(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("charm-sim-agent".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let world = world.clone();
                    // Tools may be called concurrently (a charm can run them in parallel).
                    let spawned = std::thread::Builder::new()
                        .name("charm-sim-tool".into())
                        .spawn(move || serve(conn, &world));
                    if let Err(e) = spawned {
                        tracing::error!("cannot spawn tool thread: {e}");
                    }
                }
            })?;
        Ok(AgentServer {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for AgentServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(mut conn: UnixStream, world: &Mutex<World>) {
    let mut buf = Vec::new();
    if conn.read_to_end(&mut buf).is_err() || buf.is_empty() {
        return;
    }
    let out = match serde_json::from_slice::<ToolRequest>(&buf) {
        Ok(req) => {
            let tool = req.argv.first().cloned().unwrap_or_default();
            let args = req.argv.get(1..).unwrap_or_default();
            match world.lock() {
                Ok(mut w) => {
                    if let Some(hook) = w.hook.as_mut() {
                        *hook.tools.entry(tool.clone()).or_default() += 1;
                    }
                    run_tool(
                        &mut w,
                        &req.context_id,
                        &tool,
                        args,
                        &req.stdin,
                        Path::new(&req.cwd),
                    )
                }
                Err(_) => ToolOutput {
                    code: 1,
                    stdout: String::new(),
                    stderr: "ERROR simulator state poisoned\n".into(),
                },
            }
        }
        Err(e) => ToolOutput {
            code: 1,
            stdout: String::new(),
            stderr: format!("ERROR bad request: {e}\n"),
        },
    };
    match serde_json::to_vec(&out) {
        Ok(bytes) => {
            let _ = conn.write_all(&bytes);
        }
        Err(e) => tracing::error!("cannot encode tool response: {e}"),
    }
}

/// The tool side: forwards this process's call to the agent and mirrors its answer.
/// Returns the exit code.
pub fn run_client(tool: &str, args: Vec<String>) -> i32 {
    match client(tool, args) {
        Ok(out) => {
            let _ = std::io::stdout().write_all(out.stdout.as_bytes());
            let _ = std::io::stderr().write_all(out.stderr.as_bytes());
            out.code
        }
        Err(msg) => {
            eprintln!("ERROR {msg}");
            1
        }
    }
}

fn client(tool: &str, args: Vec<String>) -> Result<ToolOutput, String> {
    let socket = std::env::var("JUJU_AGENT_SOCKET_ADDRESS")
        .map_err(|_| "JUJU_AGENT_SOCKET_ADDRESS is not set".to_string())?;
    let context_id = std::env::var("JUJU_CONTEXT_ID").unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    // Like jujuc, forward stdin whole (a hook's stdin is /dev/null unless the charm pipes in).
    let mut stdin = Vec::new();
    std::io::stdin()
        .read_to_end(&mut stdin)
        .map_err(|e| format!("reading stdin: {e}"))?;
    let mut argv = vec![tool.to_string()];
    argv.extend(args);
    let req = ToolRequest {
        context_id,
        argv,
        cwd,
        stdin,
    };
    let mut conn = UnixStream::connect(&socket)
        .map_err(|e| format!("cannot connect to agent socket {socket}: {e}"))?;
    let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    conn.write_all(&body).map_err(|e| e.to_string())?;
    conn.shutdown(std::net::Shutdown::Write)
        .map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    conn.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    serde_json::from_slice(&resp).map_err(|e| format!("bad agent response: {e}"))
}
