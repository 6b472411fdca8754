//! Protocol v2's framing (gitprotocol-v2, git's `serve.c`): the capability advertisement,
//! and a command request: `command=<name>`, capability lines, a delimiter, the command's
//! arguments, a flush. Each HTTP POST carries one request.

use super::BadRequest;
use crate::format::pktline::{self, Pkt};

/// The delimiter packet between a request's capabilities and its arguments, and between
/// the sections of a `fetch` response.
pub const DELIM: &[u8] = b"0001";

/// The value of the `Git-Protocol` header (or `GIT_PROTOCOL`) that asks for v2: one of its
/// colon-separated `key=value` parameters is `version=2`.
pub fn asks_v2(git_protocol: Option<&str>) -> bool {
    git_protocol.is_some_and(|value| value.split(':').any(|p| p.trim() == "version=2"))
}

/// The advertisement: `version 2`, one pkt-line per capability, a flush.
pub fn advertisement(capabilities: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_str(&mut out, "version 2\n");
    for capability in capabilities {
        pktline::write_str(&mut out, &format!("{capability}\n"));
    }
    out.extend_from_slice(pktline::FLUSH);
    out
}

/// Why a well-framed request is refused, in git's words (sent as an `ERR` line).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// A capability line the server did not advertise.
    #[error("unknown capability '{0}'")]
    UnknownCapability(String),
    /// A command the server does not serve, or a second one.
    #[error("invalid command '{0}'")]
    InvalidCommand(String),
    /// Capabilities without a command.
    #[error("no command requested")]
    NoCommand,
    /// An object format other than SHA-1.
    #[error("mismatched object format: server sha1; client {0}")]
    ObjectFormat(String),
    /// An argument the command does not take (git: `unexpected line: '...'`).
    #[error("unexpected line: '{0}'")]
    UnexpectedLine(String),
}

/// A command request: its name, and its arguments still framed.
#[derive(Debug)]
pub struct Command<'a> {
    /// `ls-refs`, `fetch`, `object-info`.
    pub name: &'a str,
    /// The bytes after the delimiter, up to the end of the body.
    args: &'a [u8],
}

/// Reads a request's command and capabilities: None for an empty request (a flush alone,
/// which git sends to end a session), `Err(Ok(..))` for a request git refuses.
/// `commands` are those served; `object-format` must be `sha1`; `agent`, `server-option`
/// and `session-id` are taken and ignored.
pub fn parse_command<'a>(
    body: &'a [u8],
    commands: &[&str],
) -> Result<Option<Command<'a>>, Result<Refused, BadRequest>> {
    let mut pos = 0;
    let mut name = None;
    let mut seen_any = false;
    loop {
        // A decoded length is at most the bytes decoded, so `pos` stays within them.
        let (pkt, len) = pktline::decode(body.get(pos..).unwrap_or_default())
            .map_err(|e| Err(e.into()))?
            .ok_or(Err(BadRequest::EndedBeforeFlush))?;
        pos += len;
        let line = match pkt {
            Pkt::Data(line) => line.strip_suffix(b"\n").unwrap_or(line),
            Pkt::Flush if !seen_any => return Ok(None),
            // The flush is left for the arguments' reader: it ends them too.
            Pkt::Flush => {
                pos -= len;
                break;
            }
            Pkt::Delim => break,
            Pkt::ResponseEnd => {
                return Err(Err(BadRequest::UnexpectedPacket("ResponseEnd".into())))
            }
        };
        seen_any = true;
        let text = std::str::from_utf8(line).map_err(|_| {
            Ok(Refused::UnknownCapability(
                String::from_utf8_lossy(line).into(),
            ))
        })?;
        if let Some(command) = text.strip_prefix("command=") {
            if name.is_some() || !commands.contains(&command) {
                return Err(Ok(Refused::InvalidCommand(command.into())));
            }
            name = Some(command);
        } else if let Some(format) = text.strip_prefix("object-format=") {
            if format != "sha1" {
                return Err(Ok(Refused::ObjectFormat(format.into())));
            }
        } else if !["agent=", "server-option=", "session-id="]
            .iter()
            .any(|key| text.starts_with(key))
        {
            return Err(Ok(Refused::UnknownCapability(text.into())));
        }
    }
    let name = name.ok_or(Ok(Refused::NoCommand))?;
    Ok(Some(Command {
        name,
        args: body.get(pos..).unwrap_or_default(),
    }))
}

impl<'a> Command<'a> {
    /// The arguments, one line each without its newline, up to the flush that ends them.
    pub fn args(&self) -> Args<'a> {
        Args {
            rest: self.args,
            ended: false,
        }
    }
}

/// The arguments of a [`Command`].
pub struct Args<'a> {
    rest: &'a [u8],
    ended: bool,
}

impl<'a> Iterator for Args<'a> {
    type Item = Result<&'a [u8], BadRequest>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let (pkt, len) = match pktline::decode(self.rest) {
            Ok(Some(decoded)) => decoded,
            Ok(None) => {
                self.ended = true;
                return Some(Err(BadRequest::EndedBeforeFlush));
            }
            Err(e) => {
                self.ended = true;
                return Some(Err(e.into()));
            }
        };
        self.rest = self.rest.get(len..).unwrap_or_default();
        match pkt {
            Pkt::Data(line) => Some(Ok(line.strip_suffix(b"\n").unwrap_or(line))),
            Pkt::Flush => {
                self.ended = true;
                None
            }
            other => {
                self.ended = true;
                Some(Err(BadRequest::UnexpectedPacket(format!("{other:?}"))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkts(lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            match *line {
                "0000" => out.extend_from_slice(pktline::FLUSH),
                "0001" => out.extend_from_slice(DELIM),
                text => pktline::write_str(&mut out, text),
            }
        }
        out
    }

    const SERVED: &[&str] = &["ls-refs", "fetch"];

    #[test]
    fn reads_a_command_its_capabilities_and_arguments() {
        let body = pkts(&[
            "command=ls-refs\n",
            "agent=git/2.47\n",
            "object-format=sha1\n",
            "0001",
            "peel\n",
            "ref-prefix refs/heads/\n",
            "0000",
        ]);
        let command = parse_command(&body, SERVED).unwrap().unwrap();
        assert_eq!(command.name, "ls-refs");
        let args: Vec<&[u8]> = command.args().map(Result::unwrap).collect();
        assert_eq!(args, [&b"peel"[..], b"ref-prefix refs/heads/"]);
        // Without arguments the flush ends the capabilities and the (empty) arguments.
        let body = pkts(&["command=fetch", "0000"]);
        let command = parse_command(&body, SERVED).unwrap().unwrap();
        assert_eq!(command.args().count(), 0);
        assert!(parse_command(&pkts(&["0000"]), SERVED).unwrap().is_none());
    }

    #[test]
    fn refuses_as_git_does() {
        let refused = |lines: &[&str]| parse_command(&pkts(lines), SERVED).unwrap_err();
        assert_eq!(
            refused(&["command=push", "0000"]),
            Ok(Refused::InvalidCommand("push".into()))
        );
        assert_eq!(
            refused(&["command=fetch", "command=ls-refs", "0000"]),
            Ok(Refused::InvalidCommand("ls-refs".into()))
        );
        assert_eq!(refused(&["agent=x", "0000"]), Ok(Refused::NoCommand));
        assert_eq!(
            refused(&["command=fetch", "object-format=sha256", "0000"]),
            Ok(Refused::ObjectFormat("sha256".into()))
        );
        assert_eq!(
            refused(&["command=fetch", "bogus", "0000"]),
            Ok(Refused::UnknownCapability("bogus".into()))
        );
        assert_eq!(
            refused(&["command=fetch"]),
            Err(BadRequest::EndedBeforeFlush)
        );
        let body = pkts(&["command=fetch", "0001", "done"]);
        let command = parse_command(&body, SERVED).unwrap().unwrap();
        let args: Vec<_> = command.args().collect();
        assert_eq!(args, [Ok(&b"done"[..]), Err(BadRequest::EndedBeforeFlush)]);
        let body = pkts(&["command=fetch", "0001", "0001"]);
        let command = parse_command(&body, SERVED).unwrap().unwrap();
        assert!(matches!(
            command.args().next(),
            Some(Err(BadRequest::UnexpectedPacket(_)))
        ));
    }

    #[test]
    fn reads_the_version_from_git_protocol() {
        assert!(asks_v2(Some("version=2")));
        assert!(asks_v2(Some("foo=bar:version=2")));
        assert!(!asks_v2(Some("version=1")));
        assert!(!asks_v2(Some("version=20")));
        assert!(!asks_v2(None));
    }
}
