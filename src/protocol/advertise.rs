//! The ref advertisement, one listing for its three readers: smart receive-pack, smart
//! upload-pack (protocol v0) and the dumb `info/refs` file.

use crate::format::object::ObjectId;
use crate::format::pktline;
use crate::store::Ref;

/// One advertised line: an object id and the name it is listed under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefLine {
    /// The object.
    pub id: ObjectId,
    /// `HEAD`, a full ref name, or a tag's name with `^{}` for what it peels to.
    pub name: String,
}

/// The refs in git's order: HEAD first when `head` is given, then every ref (already sorted
/// by the store), each annotated tag followed by its peeled line when `peeled`.
pub fn ref_lines(refs: &[Ref], head: Option<ObjectId>, peeled: bool) -> Vec<RefLine> {
    let mut lines = Vec::with_capacity(refs.len() + 1);
    if let Some(id) = head {
        lines.push(RefLine {
            id,
            name: "HEAD".into(),
        });
    }
    for r in refs {
        lines.push(RefLine {
            id: r.id,
            name: r.name.clone(),
        });
        if let Some(target) = r.peeled.filter(|_| peeled) {
            lines.push(RefLine {
                id: target,
                name: format!("{}^{{}}", r.name),
            });
        }
    }
    lines
}

/// A smart v0 advertisement of `service` (`git-upload-pack`, `git-receive-pack`): the
/// service line, then `lines` in pkt-lines with `caps` after the first; with no refs, the
/// `capabilities^{}` line carries them.
pub fn smart_v0(service: &str, lines: &[RefLine], caps: &str) -> Vec<u8> {
    let mut out = Vec::new();
    pktline::write_str(&mut out, &format!("# service={service}\n"));
    out.extend_from_slice(pktline::FLUSH);
    if lines.is_empty() {
        let id = ObjectId::ZERO;
        pktline::write_str(&mut out, &format!("{id} capabilities^{{}}\0{caps}\n"));
    }
    for (i, line) in lines.iter().enumerate() {
        let (id, name) = (line.id, &line.name);
        if i == 0 {
            pktline::write_str(&mut out, &format!("{id} {name}\0{caps}\n"));
        } else {
            pktline::write_str(&mut out, &format!("{id} {name}\n"));
        }
    }
    out.extend_from_slice(pktline::FLUSH);
    out
}

/// The dumb `info/refs` file: one `<id>\t<name>` line each.
pub fn dumb(lines: &[RefLine]) -> Vec<u8> {
    let mut out = String::new();
    for line in lines {
        out.push_str(&format!("{}\t{}\n", line.id, line.name));
    }
    out.into_bytes()
}
