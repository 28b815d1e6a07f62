//! The cache conformance suite: the same cases on the in-process cache, real memcached
//! (`TRIBUTARY_TEST_MEMCACHED`) and real Redis (`TRIBUTARY_TEST_REDIS`), which `scripts/test`
//! provides; and the front's behaviour in an outage, with a memcached of the test's own that it
//! stops and starts.

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::*;

/// Keys unique to one test run, since the servers are shared.
fn unique(name: &str) -> String {
    format!("tributary-test:{}:{}:{name}", std::process::id(), rand_suffix())
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

fn backend(kind: &str) -> Option<Arc<dyn QueryCache>> {
    let timeout = Duration::from_millis(500);
    let url = match kind.trim_end_matches("+near") {
        "in-process" => return Some(Arc::new(InProcessCache::new(16 << 20, Duration::from_secs(2)))),
        "memcached" => tributary_test_data::service("TRIBUTARY_TEST_MEMCACHED")?,
        _ => tributary_test_data::service("TRIBUTARY_TEST_REDIS")?,
    };
    let near_max_bytes = if kind.ends_with("+near") { 1 << 20 } else { 0 };
    Some(
        open(&CacheConfig {
            url,
            ttl: Duration::from_secs(2),
            max_size: ByteSize(0),
            timeout,
            near_size: ByteSize(near_max_bytes),
        })
        .unwrap(),
    )
}

async fn values_round_trip_and_expire(cache: Arc<dyn QueryCache>) {
    let key = unique("a");
    assert_eq!(cache.get(&key).await.unwrap(), None);
    // Binary, with the bytes memcached's text protocol frames with.
    let value = Bytes::from_static(b"\x00\xff\r\nEND\r\n{\"json\": true}");
    cache.set(&key, value.clone(), Duration::from_secs(1)).await.unwrap();
    assert_eq!(cache.get(&key).await.unwrap(), Some(value));
    let big = Bytes::from(vec![7u8; 200_000]);
    cache.set(&unique("big"), big.clone(), Duration::from_secs(1)).await.unwrap();
    let other = unique("b");
    cache.set(&other, Bytes::from_static(b"2"), Duration::from_secs(60)).await.unwrap();
    cache.set(&other, Bytes::from_static(b"3"), Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.get(&other).await.unwrap(), Some(Bytes::from_static(b"3")));
    // TTLs are whole seconds on the servers: gone after 1 s (2 s for the in-process cache).
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(cache.get(&key).await.unwrap(), None, "{} kept an expired entry", cache.backend());
}

async fn the_front_keys_by_version_and_counts(cache: Arc<dyn QueryCache>) {
    let front = Cache::new(cache, Duration::from_secs(60));
    let computed = AtomicUsize::new(0);
    let compute = |answer: &'static str| {
        computed.fetch_add(1, Ordering::SeqCst);
        async move { Ok::<_, Infallible>(Bytes::from_static(answer.as_bytes())) }
    };
    let series = unique("IT");
    let v1 = CacheKey::new("series").param("series", &series).version("series_daily", 1);
    let (a, first) = front.get_or_compute(&v1, || compute("v1")).await.unwrap();
    assert_eq!((a.as_ref(), first), (&b"v1"[..], Lookup::Miss));
    // The entry is stored in the background; wait for it.
    let mut second = Lookup::Miss;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        second = front.get_or_compute(&v1, || compute("again")).await.unwrap().1;
        if second == Lookup::Hit {
            break;
        }
    }
    assert_eq!(second, Lookup::Hit);
    let hits_before = computed.load(Ordering::SeqCst);
    let (b, lookup) = front.get_or_compute(&v1, || compute("again")).await.unwrap();
    assert_eq!((b.as_ref(), lookup, computed.load(Ordering::SeqCst)), (&b"v1"[..], Lookup::Hit, hits_before));
    // A new view version: a new key, so the new data.
    let v2 = CacheKey::new("series").param("series", &series).version("series_daily", 2);
    let (c, lookup) = front.get_or_compute(&v2, || compute("v2")).await.unwrap();
    assert_eq!((c.as_ref(), lookup), (&b"v2"[..], Lookup::Miss));
    // Errors of the computation are the caller's.
    let failed =
        front.get_or_compute(&CacheKey::new(&unique("x")), || async { Err::<Bytes, _>("store down") }).await;
    assert_eq!(failed.unwrap_err(), "store down");
}

macro_rules! conformance {
    ($($module:ident => $kind:literal),*) => {$(
        mod $module {
            #[tokio::test]
            async fn values_round_trip_and_expire() {
                if let Some(c) = super::backend($kind) { super::values_round_trip_and_expire(c).await }
            }
            #[tokio::test]
            async fn the_front_keys_by_version_and_counts() {
                if let Some(c) = super::backend($kind) { super::the_front_keys_by_version_and_counts(c).await }
            }
        }
    )*};
}

conformance!(
    in_process => "in-process",
    memcached => "memcached",
    redis => "redis",
    memcached_near => "memcached+near",
    redis_near => "redis+near"
);

/// A memcached of this test's own, on a free port, that the test can stop.
struct OwnMemcached {
    child: Child,
    port: u16,
}

impl OwnMemcached {
    fn start(port: u16) -> Self {
        let mut child = Command::new("memcached")
            .args(["-l", "127.0.0.1", "-p", &port.to_string(), "-U", "0", "-m", "16"])
            // Needed when the tests run as root (memcached refuses root otherwise); ignored else.
            .args(["-u", "root"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("memcached is installed by scripts/test");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("memcached did not start on port {port}");
    }

    fn stop(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for OwnMemcached {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_cache_outage_degrades_to_direct_reads_and_recovers() {
    if tributary_test_data::service("TRIBUTARY_TEST_MEMCACHED").is_none() {
        return;
    }
    let server = OwnMemcached::start(free_port());
    let url = format!("memcached://127.0.0.1:{}", server.port);
    // Every read goes to memcached (no near copy), so the outage shows on each.
    let config = CacheConfig {
        url,
        timeout: Duration::from_millis(200),
        near_size: ByteSize(0),
        ..CacheConfig::default()
    };
    let front = Cache::new(open(&config).unwrap(), Duration::from_secs(60));
    let key = CacheKey::new("clusters").version("mobile", 7);
    let answer = || async { Ok::<_, Infallible>(Bytes::from_static(b"centres")) };
    assert_eq!(front.get_or_compute(&key, answer).await.unwrap().1, Lookup::Miss);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(front.get_or_compute(&key, answer).await.unwrap().1, Lookup::Hit);

    // memcached stops in the middle: every request is still answered.
    let port = server.stop();
    let mut lookups = Vec::new();
    for _ in 0..20 {
        let (value, lookup) = front.get_or_compute(&key, answer).await.unwrap();
        assert_eq!(value.as_ref(), b"centres");
        lookups.push(lookup);
    }
    assert!(lookups.iter().all(|l| *l == Lookup::Bypassed), "{lookups:?}");

    // Back again (empty): after the pause the cache is used again.
    let _server = OwnMemcached::start(port);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut recovered = false;
    for _ in 0..20 {
        if front.get_or_compute(&key, answer).await.unwrap().1 == Lookup::Hit {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the cache is used again once memcached is back");
}

#[tokio::test]
async fn in_an_outage_the_near_cache_still_answers_what_it_holds() {
    if tributary_test_data::service("TRIBUTARY_TEST_MEMCACHED").is_none() {
        return;
    }
    let server = OwnMemcached::start(free_port());
    let url = format!("memcached://127.0.0.1:{}", server.port);
    let config = CacheConfig { url, timeout: Duration::from_millis(200), ..CacheConfig::default() };
    assert!(config.near_size.0 > 0, "on by default");
    let front = Cache::new(open(&config).unwrap(), Duration::from_secs(60));
    let (held, other) = (CacheKey::new("a").version("v", 1), CacheKey::new("b").version("v", 1));
    let answer = || async { Ok::<_, Infallible>(Bytes::from_static(b"rows")) };
    assert_eq!(front.get_or_compute(&held, answer).await.unwrap().1, Lookup::Miss);
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop();
    for _ in 0..5 {
        assert_eq!(front.get_or_compute(&held, answer).await.unwrap().1, Lookup::Hit);
    }
    let (value, lookup) = front.get_or_compute(&other, answer).await.unwrap();
    assert_eq!((value.as_ref(), lookup), (&b"rows"[..], Lookup::Bypassed));
}

#[test]
fn urls_choose_the_backend_and_bad_ones_are_refused() {
    let config = |url: &str| CacheConfig { url: url.into(), ..CacheConfig::default() };
    assert_eq!(open(&config("embedded")).unwrap().backend(), "in-process");
    assert_eq!(open(&config("memcached://127.0.0.1:11211")).unwrap().backend(), "memcached");
    assert_eq!(open(&config("redis://127.0.0.1:6379/0")).unwrap().backend(), "redis");
    for bad in ["memcache://x", "http://x", "memcached://", "redis//x"] {
        assert!(open(&config(bad)).is_err(), "{bad}");
    }
}
