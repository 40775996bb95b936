//! The sans-IO POP3 engine. Nothing in here opens a socket, spawns a task or reads a clock:
//! drivers feed it bytes and transport events and act on the events it returns.

pub mod auth;
pub mod capability;
pub mod command;
pub mod engine;
pub mod event;
pub mod framer;
pub mod probes;
pub mod redact;
pub mod response;
pub mod rules;
pub mod server;
pub mod session;
pub mod state;

pub use command::{Command, Keyword, Secret};
pub use engine::{Config, Engine};
pub use event::{
    Direction, Event, EventSink, Finding, Location, Reply, Time, TlsFailure, Transition,
    TransportEvent,
};
pub use response::{ResponseCode, Status};
pub use rules::{RuleInfo, Scope, Severity};
pub use session::Session;
pub use state::{AuthStep, Security, State};
