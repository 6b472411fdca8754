//! git's dumb HTTP protocol, served from the store exactly as a static server would serve
//! a bare repository after `git update-server-info`.

use crate::format::pack::PackId;
use crate::http::reply::{Body, Caching, Reply};
use crate::http::route::Endpoint;
use crate::protocol::advertise;
use crate::store::sql::Sql;
use crate::store::{PackFile, Store, StoreError};

/// The dumb `info/refs` listing: sorted refs, each annotated tag followed by its peeled line.
pub fn info_refs<S: Sql>(store: &Store<S>) -> Result<Vec<u8>, StoreError> {
    let lines = advertise::ref_lines(&store.refs()?, None, true);
    Ok(advertise::dumb(&lines))
}

/// Answers a GET of a dumb-protocol file. `range` is the request's Range header.
pub fn get<S: Sql>(
    store: &Store<S>,
    endpoint: &Endpoint,
    range: Option<&str>,
) -> Result<Reply, StoreError> {
    if !store.exists()? {
        return Ok(Reply::repository_not_found());
    }
    Ok(match endpoint {
        Endpoint::InfoRefs => Reply::ok("text/plain", Caching::NoCache, info_refs(store)?),
        Endpoint::Head => {
            let target = store.head_target()?.unwrap_or_default();
            Reply::ok(
                "text/plain",
                Caching::NoCache,
                format!("ref: {target}\n").into_bytes(),
            )
        }
        Endpoint::InfoPacks => {
            let mut list = String::new();
            for pack in store.packs()? {
                list.push_str(&format!("P pack-{}.pack\n", pack.name));
            }
            list.push('\n');
            Reply::ok(
                "text/plain; charset=utf-8",
                Caching::NoCache,
                list.into_bytes(),
            )
        }
        Endpoint::LooseObject(id) => match store.loose_object(id)? {
            Some(file) => Reply::ok("application/x-git-loose-object", Caching::Forever, file),
            None => Reply::text(404, "object not found"),
        },
        Endpoint::PackFile(name, file) => match store.pack_by_name(name)? {
            None => Reply::text(404, "pack not found"),
            Some(pack) => {
                let (size, content_type) = match file {
                    PackFile::Pack => (pack.size, "application/x-git-packed-objects"),
                    PackFile::Idx => (pack.idx_size, "application/x-git-packed-objects-toc"),
                };
                ranged(pack.id, *file, size, content_type, range)
            }
        },
        Endpoint::Alternates => Reply::text(404, "no alternates"),
        Endpoint::ReceivePack | Endpoint::UploadPack => Reply::text(405, "use POST"),
        // The backend hands the API its own requests; no file is named `api`.
        Endpoint::Api(_) => Reply::text(404, "not found"),
    })
}

/// A whole-file or single-range reply for a stored pack file.
fn ranged(
    pack: PackId,
    file: PackFile,
    size: u64,
    content_type: &'static str,
    range: Option<&str>,
) -> Reply {
    let (status, start, end, mut headers) = match wanted(range, size) {
        Wanted::Whole => (200, 0, size, Vec::new()),
        Wanted::Part(start, end) => {
            let content_range = format!("bytes {start}-{}/{size}", end - 1);
            (206, start, end, vec![("Content-Range", content_range)])
        }
        Wanted::Unsatisfiable => {
            return Reply {
                status: 416,
                content_type: "text/plain; charset=utf-8",
                caching: Caching::Default,
                headers: vec![("Content-Range", format!("bytes */{size}"))],
                body: Body::Bytes(b"requested range not satisfiable\n".to_vec()),
            }
        }
    };
    headers.insert(0, ("Accept-Ranges", "bytes".into()));
    Reply {
        status,
        content_type,
        caching: Caching::Forever,
        headers,
        body: Body::Chunks {
            pack,
            file,
            start,
            end,
        },
    }
}

/// What a Range header asks of a file.
enum Wanted {
    /// The whole file: no Range header, or one this server does not serve in part.
    Whole,
    /// The bytes from `.0` up to, not including, `.1`.
    Part(u64, u64),
    /// A range that lies outside the file.
    Unsatisfiable,
}

/// Reads a Range header for a file of `size` bytes. Several ranges would need a multipart
/// answer, so they get the whole file, which HTTP allows.
fn wanted(range: Option<&str>, size: u64) -> Wanted {
    let Some(spec) = range.and_then(|r| r.trim().strip_prefix("bytes=")) else {
        return Wanted::Whole;
    };
    let Some((first, last)) = spec.split_once('-').filter(|_| !spec.contains(',')) else {
        return Wanted::Whole;
    };
    let bounds = match (first.trim().parse::<u64>(), last.trim()) {
        (Ok(start), "") => Some((start, size)),
        (Ok(start), last) => last.parse::<u64>().ok().map(|l| (start, (l + 1).min(size))),
        (Err(_), suffix) => suffix
            .parse::<u64>()
            .ok()
            .map(|n| (size.saturating_sub(n), size)),
    };
    match bounds {
        Some((start, end)) if start < end => Wanted::Part(start, end),
        _ => Wanted::Unsatisfiable,
    }
}
