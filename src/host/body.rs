//! Reading a request body (or the answer to a request sent) in large pieces. A default reader hands over whatever the
//! network delivered, often 16 KiB at a time, and each piece costs a promise and a copy
//! into wasm; workerd's `readAtLeast` on a BYOB reader waits for a whole piece instead.

use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use worker::js_sys::{Object, Promise, Reflect, Uint8Array};
use worker::wasm_bindgen_futures::JsFuture;
use worker::web_sys::ReadableStream;
use worker::{Request, Response, ResponseBody, Result};

/// The bytes one read waits for, unless the body ends first.
const PIECE: u32 = 256 * 1024;

#[wasm_bindgen]
extern "C" {
    /// A request body's `ReadableStream`, for a reader workers-rs does not offer.
    type BodyStream;

    #[wasm_bindgen(method, catch, js_name = getReader)]
    fn get_reader(this: &BodyStream, options: &JsValue)
        -> std::result::Result<ByobReader, JsValue>;

    #[wasm_bindgen(method, getter)]
    fn locked(this: &BodyStream) -> bool;

    /// `ReadableStreamBYOBReader`.
    type ByobReader;

    /// workerd's extension: resolves once `min` bytes are read into `view`, or at the end.
    #[wasm_bindgen(method, js_name = readAtLeast)]
    fn read_at_least(this: &ByobReader, min: u32, view: Uint8Array) -> Promise;

}

/// Reads and drops the body of `req` if nothing has begun to read it (a refusal answered
/// before it). Answering a request whose body is still coming leaves the runtime feeding it
/// to a request already answered, which fails ("Can't read from request stream after
/// response has been sent"); under `wrangler dev` the client then gets a 503 instead of the
/// answer. Cancelling the body does not prevent that; reading it does. The platform's body
/// limit (100 MB on Free and Pro) bounds what is read, as it bounds any push.
pub async fn discard(req: &Request) {
    let Some(stream) = req.inner().body() else {
        return;
    };
    if stream.unchecked_into::<BodyStream>().locked() {
        return;
    }
    if let Ok(mut body) = Body::of(req) {
        while let Ok(Some(_)) = body.next().await {}
    }
}

/// A request body being read piece by piece.
pub struct Body {
    reader: Option<ByobReader>,
}

impl Body {
    /// The body of `req` (none if it has none).
    pub fn of(req: &Request) -> Result<Body> {
        Body::of_stream(req.inner().body())
    }

    /// The body of `response`, an answer to a request this object sent.
    pub fn of_response(response: &Response) -> Result<Body> {
        Body::of_stream(match response.body() {
            ResponseBody::Stream(stream) => Some(stream.clone()),
            _ => None,
        })
    }

    fn of_stream(stream: Option<ReadableStream>) -> Result<Body> {
        let Some(stream) = stream else {
            return Ok(Body { reader: None });
        };
        let options = Object::new();
        Reflect::set(&options, &"mode".into(), &"byob".into())?;
        let reader = stream.unchecked_into::<BodyStream>().get_reader(&options)?;
        Ok(Body {
            reader: Some(reader),
        })
    }

    /// The whole rest of the body, or None if it is longer than `limit` (then only part of
    /// it is read).
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        while let Some(piece) = self.next().await? {
            out.extend_from_slice(&piece);
            if out.len() > limit {
                return Ok(None);
            }
        }
        Ok(Some(out))
    }

    /// The next piece: at least 256 KiB unless the body ends; None at its end.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        let Some(reader) = &self.reader else {
            return Ok(None);
        };
        let view = Uint8Array::new_with_length(PIECE);
        let read = JsFuture::from(reader.read_at_least(PIECE, view)).await?;
        let done = Reflect::get(&read, &"done".into())?
            .as_bool()
            .unwrap_or(true);
        let bytes = Reflect::get(&read, &"value".into())?
            .dyn_into::<Uint8Array>()
            .map(|view| view.to_vec())
            .unwrap_or_default();
        if done && bytes.is_empty() {
            self.reader = None;
            return Ok(None);
        }
        Ok(Some(bytes))
    }
}
