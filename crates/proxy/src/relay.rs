//! Relaying an upgraded connection (a websocket) byte for byte, both ways,
//! with small writes of a stream gathered into larger ones.
//!
//! Why gather: a kernel printing output, or any peer streaming small
//! messages, makes the proxy read one message at a time, and writing each
//! straight on wakes the receiving process once per message. Those
//! wake-ups, not the bytes, are what a stream of small messages costs its
//! receiver: relayed one by one, 100-byte messages between two Python
//! `websockets` peers ran at 0.6× the direct connection; gathered, at
//! 0.96× (BENCHMARKS.md, "gathering websocket streams"). So when data
//! follows the previous write in the same direction closely (a stream, not
//! an exchange), the relay keeps reading for a short window before it
//! writes. Data that arrives after a pause (a lone message, a reply, a
//! keystroke) is written at once, so ping-pong latency is untouched; a
//! stream's bytes wait at most one window.
//!
//! The window is shorter than a timer tick, so it is waited out by yielding
//! to the runtime, which polls its sockets in between: the proxy spends CPU
//! while a stream flows (about twice its CPU per message relayed one by one)
//! and none otherwise. Frames are never parsed: websocket bytes pass through
//! unchanged and in order.

use std::io;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// How long a stream's data may wait for more before it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gather {
    window: Duration,
}

impl Gather {
    /// The default window (`--ws-gather`): the best of the windows tried
    /// (30–200 µs) between Python peers (BENCHMARKS.md), and far below what
    /// a person or a network round trip notices.
    pub const DEFAULT_WINDOW: Duration = Duration::from_micros(200);

    /// Gathers for up to `window`; a zero window writes every read at once.
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self { window }
    }

    /// Every read written at once, as a plain copy would.
    #[must_use]
    pub fn off() -> Self {
        Self::new(Duration::ZERO)
    }

    /// Data arriving within this long of the previous write continues a
    /// stream. Half the window: an exchange whose round trip is shorter
    /// than that is rare outside busy-polled loopback, and would wait at
    /// most one window per message.
    fn stream_gap(self) -> Duration {
        self.window / 2
    }
}

impl Default for Gather {
    fn default() -> Self {
        Self::new(Self::DEFAULT_WINDOW)
    }
}

/// The first read of a burst lands here: a lone small message is written
/// from it without allocating, and an idle connection holds no larger
/// buffer.
const FIRST_READ: usize = 2048;

/// The most one write carries; allocated per burst and freed after it.
const BATCH: usize = 64 * 1024;

/// Copies bytes both ways until both directions have ended (each end is
/// passed on as a write shutdown), or either fails. Returns the bytes
/// relayed from `a` to `b` and from `b` to `a`.
///
/// # Errors
/// The first read or write error of either direction; the other direction
/// is dropped with it.
pub async fn relay<A, B>(a: A, b: B, gather: Gather) -> io::Result<(u64, u64)>
where
    A: AsyncRead + AsyncWrite,
    B: AsyncRead + AsyncWrite,
{
    let (a_read, a_write) = tokio::io::split(a);
    let (b_read, b_write) = tokio::io::split(b);
    tokio::try_join!(pump(a_read, b_write, gather), pump(b_read, a_write, gather))
}

/// One direction: read, gather if it is a stream, write; until the end.
async fn pump<R, W>(mut from: R, mut to: W, gather: Gather) -> io::Result<u64>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut first = [0u8; FIRST_READ];
    let mut relayed = 0u64;
    let mut last_write: Option<Instant> = None;
    loop {
        let n = from.read(&mut first).await?;
        if n == 0 {
            to.shutdown().await?;
            return Ok(relayed);
        }
        let now = Instant::now();
        let streaming = !gather.window.is_zero()
            && last_write.is_some_and(|at| now.duration_since(at) < gather.stream_gap());
        let ended = if n < FIRST_READ && !streaming {
            to.write_all(&first[..n]).await?;
            relayed += n as u64;
            false
        } else {
            let mut batch = Vec::with_capacity(BATCH);
            batch.extend_from_slice(&first[..n]);
            let until = streaming.then(|| now + gather.window);
            let ended = read_more(&mut from, &mut batch, until).await?;
            to.write_all(&batch).await?;
            relayed += batch.len() as u64;
            ended
        };
        if ended {
            to.shutdown().await?;
            return Ok(relayed);
        }
        if !gather.window.is_zero() {
            last_write = Some(Instant::now());
        }
    }
}

/// Adds to `batch` what `from` holds already and, until `until`, what
/// arrives meanwhile, never waiting for data; stops when `batch` is full.
/// Returns whether `from` has ended.
async fn read_more<R>(from: &mut R, batch: &mut Vec<u8>, until: Option<Instant>) -> io::Result<bool>
where
    R: AsyncRead + Unpin,
{
    loop {
        // `read_buf` fills the spare capacity; with none left it would
        // grow the vector (or, at zero length, look like the end).
        while batch.len() < batch.capacity() {
            match from.read_buf(batch).now_or_never() {
                Some(Ok(0)) => return Ok(true),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        match until {
            Some(until) if batch.len() < batch.capacity() && Instant::now() < until => {
                tokio::task::yield_now().await;
            }
            _ => return Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// A reader handing out one queued chunk per read, answering `Pending`
    /// (and waking at once) between chunks, as a socket does when messages
    /// arrive one by one; the end once the queue is empty and `ends`.
    struct Chunks {
        queue: VecDeque<Vec<u8>>,
        pending_next: bool,
        ends: bool,
    }

    impl Chunks {
        fn new(chunks: impl IntoIterator<Item = Vec<u8>>, ends: bool) -> Self {
            Self {
                queue: chunks.into_iter().collect(),
                pending_next: false,
                ends,
            }
        }
    }

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if self.pending_next {
                self.pending_next = false;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            let ends = self.ends;
            match self.queue.front_mut() {
                Some(chunk) => {
                    let n = chunk.len().min(buf.remaining());
                    buf.put_slice(&chunk[..n]);
                    chunk.drain(..n);
                    if chunk.is_empty() {
                        self.queue.pop_front();
                    }
                    self.pending_next = true;
                    Poll::Ready(Ok(()))
                }
                None if ends => Poll::Ready(Ok(())),
                None => Poll::Pending,
            }
        }
    }

    /// A writer recording each write it is given, and whether it was shut.
    #[derive(Clone, Default)]
    struct Writes(Arc<Mutex<(Vec<Vec<u8>>, bool)>>);

    impl Writes {
        fn writes(&self) -> Vec<Vec<u8>> {
            self.0.lock().unwrap().0.clone()
        }
        fn shut(&self) -> bool {
            self.0.lock().unwrap().1
        }
    }

    impl AsyncWrite for Writes {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.0.lock().unwrap().0.push(data.to_vec());
            Poll::Ready(Ok(data.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.0.lock().unwrap().1 = true;
            Poll::Ready(Ok(()))
        }
    }

    fn messages(count: usize, size: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|i| vec![u8::try_from(i % 251).unwrap(); size])
            .collect()
    }

    /// Relays `chunks` from a peer that then stays silent, never ending,
    /// in a task of its own (abort it when done).
    fn pump_without_end(
        chunks: Vec<Vec<u8>>,
        window: Duration,
    ) -> (Writes, tokio::task::JoinHandle<io::Result<u64>>) {
        let out = Writes::default();
        let task = tokio::spawn(pump(
            Chunks::new(chunks, false),
            out.clone(),
            Gather::new(window),
        ));
        (out, task)
    }

    fn joined(chunks: &[Vec<u8>]) -> Vec<u8> {
        chunks.concat()
    }

    #[tokio::test]
    async fn a_stream_of_small_messages_is_written_in_few_large_writes() {
        let sent = messages(200, 100);
        let out = Writes::default();
        let relayed = pump(
            Chunks::new(sent.clone(), true),
            out.clone(),
            Gather::default(),
        )
        .await
        .unwrap();
        let writes = out.writes();
        assert_eq!(relayed, 20_000);
        assert_eq!(joined(&writes), joined(&sent), "bytes changed or reordered");
        assert!(
            writes.len() <= 20,
            "200 messages arriving back to back took {} writes",
            writes.len()
        );
        assert!(out.shut(), "the end was not passed on");
    }

    #[tokio::test]
    async fn with_gathering_off_every_read_is_written_at_once() {
        let sent = messages(50, 100);
        let out = Writes::default();
        pump(Chunks::new(sent.clone(), true), out.clone(), Gather::off())
            .await
            .unwrap();
        assert_eq!(out.writes(), sent);
    }

    #[tokio::test]
    async fn the_first_message_after_a_pause_is_not_held() {
        // One message, then nothing (the peer waits for a reply): it must be
        // written while the reader is still open, without waiting a window.
        let (out, task) = pump_without_end(messages(1, 100), Duration::from_secs(60));
        for _ in 0..100 {
            tokio::task::yield_now().await;
            if !out.writes().is_empty() {
                break;
            }
        }
        assert_eq!(out.writes(), messages(1, 100));
        task.abort();
    }

    #[tokio::test]
    async fn a_stream_waits_at_most_one_window_when_the_data_stops() {
        // Two quick messages start a stream, then the peer falls silent: the
        // second must still be written once the window has passed.
        let (out, task) = pump_without_end(messages(2, 100), Duration::from_millis(5));
        let deadline = Instant::now() + Duration::from_secs(10);
        while joined(&out.writes()).len() < 200 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(joined(&out.writes()), joined(&messages(2, 100)));
        task.abort();
    }

    #[tokio::test]
    async fn a_burst_larger_than_a_batch_is_split_without_losing_bytes() {
        // A read filling the batch exactly must not be mistaken for the end.
        let sent = vec![vec![7u8; FIRST_READ]; 3 * BATCH / FIRST_READ + 1];
        let out = Writes::default();
        pump(
            Chunks::new(sent.clone(), true),
            out.clone(),
            Gather::default(),
        )
        .await
        .unwrap();
        let writes = out.writes();
        assert_eq!(joined(&writes), joined(&sent));
        assert!(writes.iter().all(|w| w.len() <= BATCH));
        assert!(out.shut());
    }

    #[tokio::test]
    async fn relays_both_ways_over_real_sockets_and_passes_each_end_on() {
        use tokio::net::{TcpListener, TcpStream};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // client ⇄ [proxy_client | relay | proxy_target] ⇄ target
        let client = TcpStream::connect(addr).await.unwrap();
        let (proxy_client, _) = listener.accept().await.unwrap();
        let proxy_target = TcpStream::connect(addr).await.unwrap();
        let (target, _) = listener.accept().await.unwrap();
        let relay = tokio::spawn(relay(proxy_client, proxy_target, Gather::default()));

        let (mut client_read, mut client_write) = client.into_split();
        let (mut target_read, mut target_write) = target.into_split();
        let up: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let down: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
        let (up_sent, down_sent) = (up.clone(), down.clone());
        let writer_up = tokio::spawn(async move {
            for chunk in up_sent.chunks(100) {
                client_write.write_all(chunk).await.unwrap();
            }
            client_write.shutdown().await.unwrap();
        });
        let writer_down = tokio::spawn(async move {
            target_write.write_all(&down_sent).await.unwrap();
            target_write.shutdown().await.unwrap();
        });
        let mut got_up = Vec::new();
        target_read.read_to_end(&mut got_up).await.unwrap();
        let mut got_down = Vec::new();
        client_read.read_to_end(&mut got_down).await.unwrap();
        writer_up.await.unwrap();
        writer_down.await.unwrap();
        assert_eq!(got_up, up);
        assert_eq!(got_down, down);
        assert_eq!(relay.await.unwrap().unwrap(), (300_000, 100_000));
    }
}
