package import AdPilotCore
#if canImport(Glibc)
import Glibc
#endif

/// The wall clock (CLOCK_REALTIME): the one clock read outside tests and demos. Everything
/// else takes a `TimeSource`, so tests and the accelerated demo clock can stand in.
package struct SystemClock: TimeSource {
    package init() {}

    package func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Instant(microsSinceEpoch: Int64(ts.tv_sec) * Instant.microsPerSecond + Int64(ts.tv_nsec) / 1_000)
    }
}
