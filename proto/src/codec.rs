//! Protobuf on the wire, as `tonic_prost::ProstCodec`, with buffers sized for
//! this API's messages.
//!
//! tonic starts the encode and the decode buffer of every call at 8 KiB. A
//! reserve and its answer are a few hundred bytes, so on the hot path those
//! were two large allocations a call, on both sides, each too big for
//! glibc's per-thread cache. 512 bytes fits that cache; a larger message
//! still goes through, its buffer growing as it is written or read.

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, Codec};
use tonic_prost::ProstCodec;

/// Where each call's encode and decode buffers start.
const BUFFER_BYTES: usize = 512;
/// tonic's own default: how much a stream encodes before it yields.
const YIELD_THRESHOLD: usize = 32 * 1024;

/// The codec of every generated client and server.
#[derive(Debug)]
pub struct SmallBufferCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SmallBufferCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for SmallBufferCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = <ProstCodec<T, U> as Codec>::Encoder;
    type Decoder = <ProstCodec<T, U> as Codec>::Decoder;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(settings())
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER_BYTES, YIELD_THRESHOLD)
}
