//! The cache backends, one per module: the embedded default and the two servers.

pub mod in_process;
pub mod memcached;
pub mod redis;
