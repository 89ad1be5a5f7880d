import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The C allocator's settings for a node process.
///
/// A node allocates and frees media buffers of 16 KB to a few MB many times a second (a fragment per stream
/// every 200 ms). With glibc's defaults, freed memory at the top of the heap beyond 128 KB goes back to the
/// kernel and blocks of 128 KB or more come from fresh mappings, so the next allocation faults its pages in
/// again and the kernel zeroes them: measured on a dvr-node recording 200 streams, 2 % of its CPU was that
/// zeroing alone. Keeping freed memory for reuse removes it; the price is that the resident size stays at its
/// peak instead of shrinking after a burst.
///
/// Guarantees: applied once, before the node starts; no effect where the C library is not glibc; an operator's
/// `MALLOC_TRIM_THRESHOLD_` or `MALLOC_MMAP_THRESHOLD_` environment variable wins over the setting it names.
public enum MemoryTuning {
    /// Freed memory kept at the top of the heap before any is returned to the kernel.
    public static let trimThreshold = 64 << 20
    /// Blocks at least this large come from their own mapping (returned to the kernel when freed).
    public static let mmapThreshold = 8 << 20

    /// Applies the settings (glibc's `mallopt`).
    public static func apply(environment: [String: String] = ProcessInfo.processInfo.environment) {
        #if canImport(Glibc)
            // `mallopt` is not in Swift's Glibc module: look it up (RTLD_DEFAULT is a null handle in glibc). Absent
            // (another C library), nothing is changed.
            guard let symbol = dlsym(nil, "mallopt") else { return }
            typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
            let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
            // glibc's malloc.h: M_TRIM_THRESHOLD is -1, M_MMAP_THRESHOLD is -3.
            if environment["MALLOC_TRIM_THRESHOLD_"] == nil { _ = mallopt(-1, Int32(trimThreshold)) }
            if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = mallopt(-3, Int32(mmapThreshold)) }
        #endif
    }
}
