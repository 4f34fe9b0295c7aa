/// A clock that runs `speed` times faster than `base`, starting at `start`: the demo's
/// simulated time (`adpilotd --demo --speed S`: S simulated seconds per real second).
package final class AcceleratedClock: TimeSource {
    package let start: Instant
    package let speed: Double
    private let base: any TimeSource
    private let baseStart: Instant

    package init(start: Instant, speed: Double, base: any TimeSource) {
        precondition(speed.isFinite && speed > 0)
        self.start = start
        self.speed = speed
        self.base = base
        self.baseStart = base.now()
    }

    package func now() -> Instant {
        let elapsed = Double(base.now().microsSinceEpoch - baseStart.microsSinceEpoch) * speed
        return start.adding(micros: Int64(max(-9.0e18, min(elapsed, 9.0e18))))
    }
}
