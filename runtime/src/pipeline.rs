//! Extraction and writing, overlapped.
//!
//! A migration is two loops over the same rows: extraction (parsing, upgrading and checking
//! JSON, building row structs) and writing (comparing with the stored rows, binding and running
//! statements). [`run`] hands the extracted rows over in chunks. Natively the extraction runs
//! on a second thread while the calling thread writes, so a migration takes about as long as
//! the longer of the two loops instead of their sum. On `wasm32` (a Durable Object) and when
//! asked for, both run on the calling thread, one chunk after the other.
//!
//! The database is touched only by the calling thread, inside the caller's transaction: if
//! either side fails, the caller rolls back and nothing is written.

use crate::error::Error;

/// Chunks that may wait between the two sides: enough to smooth out uneven chunks, few enough
/// that memory holds only a few chunks' rows.
#[cfg(not(target_arch = "wasm32"))]
const DEPTH: usize = 4;

/// Runs `produce`, which passes chunks to the sink it is given, and `consume` on each chunk,
/// in order. `threaded` runs `produce` on a second thread (ignored on `wasm32`).
///
/// The first failure wins: a failing `consume` stops `produce` at its next chunk (it then sees
/// [`Error::Stopped`], which is not reported), and a failing `produce` ends the run after the
/// chunks it had passed on were consumed.
pub fn run<T, P>(
    threaded: bool,
    produce: impl FnOnce(&mut dyn FnMut(T) -> Result<(), Error>) -> Result<P, Error> + Send,
    mut consume: impl FnMut(T) -> Result<(), Error>,
) -> Result<P, Error>
where
    T: Send,
    P: Send,
{
    #[cfg(not(target_arch = "wasm32"))]
    if threaded {
        return run_threaded(produce, consume);
    }
    let _ = threaded;
    produce(&mut consume)
}

#[cfg(not(target_arch = "wasm32"))]
fn run_threaded<T, P>(
    produce: impl FnOnce(&mut dyn FnMut(T) -> Result<(), Error>) -> Result<P, Error> + Send,
    mut consume: impl FnMut(T) -> Result<(), Error>,
) -> Result<P, Error>
where
    T: Send,
    P: Send,
{
    // Taken by the thread, or by this one if no thread can be started.
    let slot = std::sync::Mutex::new(Some(produce));
    let take = || slot.lock().unwrap_or_else(|p| p.into_inner()).take().expect("produce runs once");
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<T>(DEPTH);
        let spawned = std::thread::Builder::new()
            .name("kv2sql-extract".into())
            .spawn_scoped(scope, || take()(&mut move |chunk| tx.send(chunk).map_err(|_| Error::Stopped)));
        let producer = match spawned {
            Ok(p) => p,
            Err(_) => return take()(&mut consume),
        };
        let mut failed = None;
        for chunk in rx.iter() {
            if let Err(e) = consume(chunk) {
                failed = Some(e);
                break;
            }
        }
        // The producer's next send fails: it stops.
        drop(rx);
        let produced = match producer.join() {
            Ok(p) => p,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        match failed {
            Some(e) => Err(e),
            None => produced,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DataError;

    fn data_error(n: usize) -> Error {
        Error::Data(DataError { kv_key: "k".into(), pointer: format!("/{n}"), expected: "x".into(), found: "y".into() })
    }

    /// Produces 0..n, failing at `fail_at` if given.
    fn producer(
        n: usize,
        fail_at: Option<usize>,
    ) -> impl FnOnce(&mut dyn FnMut(usize) -> Result<(), Error>) -> Result<&'static str, Error> + Send {
        move |sink| {
            for i in 0..n {
                if Some(i) == fail_at {
                    return Err(data_error(i));
                }
                sink(i)?;
            }
            Ok("produced")
        }
    }

    #[test]
    fn every_chunk_is_consumed_in_order_on_either_path() {
        for threaded in [false, true] {
            let mut seen = Vec::new();
            let r = run(threaded, producer(1000, None), |i| {
                seen.push(i);
                Ok(())
            });
            assert_eq!(r.unwrap(), "produced");
            assert_eq!(seen, (0..1000).collect::<Vec<_>>(), "threaded: {threaded}");
        }
    }

    #[test]
    fn a_failing_producer_reports_its_error_after_its_earlier_chunks() {
        for threaded in [false, true] {
            let mut seen = Vec::new();
            let r = run(threaded, producer(100, Some(40)), |i| {
                seen.push(i);
                Ok(())
            });
            assert_eq!(r.unwrap_err().to_string(), data_error(40).to_string());
            assert_eq!(seen, (0..40).collect::<Vec<_>>(), "threaded: {threaded}");
        }
    }

    #[test]
    fn a_failing_consumer_stops_the_producer_and_its_error_wins() {
        for threaded in [false, true] {
            let mut seen = Vec::new();
            let r = run(threaded, producer(100_000, None), |i| {
                seen.push(i);
                if i == 7 {
                    return Err(Error::Schema("disk full".into()));
                }
                Ok(())
            });
            assert_eq!(r.unwrap_err().to_string(), "schema: disk full", "threaded: {threaded}");
            assert_eq!(seen, (0..=7).collect::<Vec<_>>());
        }
    }
}
