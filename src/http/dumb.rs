//! git's dumb HTTP protocol, served from the store exactly as a static server would serve
//! a bare repository after `git update-server-info`.

use crate::http::range::ranged;
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
                let body = |start, end| Body::Chunks {
                    pack: pack.id,
                    file: *file,
                    start,
                    end,
                };
                ranged(size, range, content_type, Caching::Forever, body)
            }
        },
        Endpoint::Alternates => Reply::text(404, "no alternates"),
        Endpoint::ReceivePack | Endpoint::UploadPack => Reply::text(405, "use POST"),
        // The backend hands the API, LFS and pages their own requests; no file is named so.
        Endpoint::Api(_) | Endpoint::Lfs(_) | Endpoint::Page(_) => Reply::text(404, "not found"),
    })
}
