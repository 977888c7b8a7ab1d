//! Independent per-item work spread over the machine's cores, results in input order.
//! `generate` derives and renders 10,000 tables; on the 2-core machines it runs on, work left
//! on one thread is what the wall clock shows.

/// `f` applied to every item, on up to [`threads`] threads; the first error in input order
/// wins. Small inputs stay on the calling thread (spawning costs more than it saves).
pub fn map<T, U, E, F>(items: Vec<T>, f: F) -> Result<Vec<U>, E>
where
    T: Send,
    U: Send,
    E: Send,
    F: Fn(T) -> Result<U, E> + Sync,
{
    let threads = threads();
    if threads < 2 || items.len() < 64 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut rest = items.into_iter();
    loop {
        let part: Vec<T> = rest.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        chunks.push(part);
    }
    let f = &f;
    let results: Vec<Result<Vec<U>, E>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

/// Drops `t` on a thread of its own: freeing the contexts of 10,000 tables (~1.5 million
/// allocations) takes ~15 ms the caller need not wait for.
pub fn drop_later<T: Send + 'static>(t: T) {
    let spawned = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(t));
    // Without a thread, `t` was dropped by the failed spawn, here.
    drop(spawned);
}

/// How many threads per-item work uses: the cores available, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_order_and_reports_the_first_error() {
        let items: Vec<u32> = (0..1000).collect();
        let doubled = super::map(items.clone(), |i| Ok::<_, u32>(i * 2)).unwrap();
        assert_eq!(doubled, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        let err = super::map(items, |i| if i % 300 == 299 { Err(i) } else { Ok(i) });
        assert_eq!(err, Err(299));
    }
}
