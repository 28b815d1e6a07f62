//! The cache backends, one per module: the embedded default, the two servers, and the near
//! cache that keeps a server's entries in the process too.

pub mod in_process;
pub mod memcached;
pub mod near;
pub mod redis;
