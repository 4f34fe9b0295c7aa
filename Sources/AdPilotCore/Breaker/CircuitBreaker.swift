/// Circuit breaker settings (resilience4j's vocabulary).
package struct BreakerConfig: Hashable, Sendable, Codable {
    package enum Window: Hashable, Sendable, Codable {
        /// The last N calls.
        case count(Int)
        /// Calls in the last N seconds, kept in `BreakerConfig.timeBuckets` buckets.
        case time(seconds: Int64)
    }

    package static let countWindowMax = 1_000
    package static let timeBuckets = 10
    package static let timeWindowSecondsMax: Int64 = 86_400

    package var window: Window
    /// No verdict on the failure rate before this many calls are in the window.
    package var minimumCalls: Int
    /// Open when failures / calls reaches this (0...1).
    package var failureRateThreshold: Double
    package var waitInOpenSeconds: Int64
    /// Trial calls allowed in half-open; their failure rate decides open or closed.
    package var permittedCallsInHalfOpen: Int

    package init(
        window: Window, minimumCalls: Int, failureRateThreshold: Double,
        waitInOpenSeconds: Int64, permittedCallsInHalfOpen: Int
    ) {
        self.window = window
        self.minimumCalls = minimumCalls
        self.failureRateThreshold = failureRateThreshold
        self.waitInOpenSeconds = waitInOpenSeconds
        self.permittedCallsInHalfOpen = permittedCallsInHalfOpen
    }

    package static let standard = BreakerConfig(
        window: .count(20), minimumCalls: 5, failureRateThreshold: 0.5,
        waitInOpenSeconds: 300, permittedCallsInHalfOpen: 3)

    package var isValid: Bool {
        let windowOK: Bool
        switch window {
        case .count(let n): windowOK = n >= 1 && n <= Self.countWindowMax && minimumCalls <= n
        case .time(let s): windowOK = s >= Int64(Self.timeBuckets) && s <= Self.timeWindowSecondsMax
        }
        return windowOK && minimumCalls >= 1 && failureRateThreshold > 0 && failureRateThreshold <= 1
            && waitInOpenSeconds >= 0 && permittedCallsInHalfOpen >= 1
    }
}

package enum BreakerState: String, Hashable, Sendable, Codable, CaseIterable {
    case closed, open
    case halfOpen = "half_open"
}

/// A circuit breaker as a value: every method returns or mutates a plain struct, so the
/// daemon persists it verbatim (Codable) and a restart honours an open breaker.
package struct CircuitBreaker: Hashable, Sendable, Codable {
    package private(set) var state: BreakerState = .closed
    package private(set) var openedAt: Instant? = nil
    /// Count window: outcomes as a ring (true = failure). Time window: unused.
    private var ring: [Bool] = []
    private var ringNext = 0
    /// Time window: per-bucket (bucket index, calls, failures).
    private var buckets: [Bucket] = []
    private var halfOpenPermitted = 0
    private var halfOpenCalls = 0
    private var halfOpenFailures = 0

    struct Bucket: Hashable, Sendable, Codable {
        var index: Int64
        var calls: Int
        var failures: Int
    }

    package init() {}

    enum CodingKeys: String, CodingKey {
        case state, openedAt, ring, ringNext, buckets, halfOpenPermitted, halfOpenCalls, halfOpenFailures
    }

    /// Restored state is checked: a corrupt state file is an error, never a trap later.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        state = try c.decode(BreakerState.self, forKey: .state)
        openedAt = try c.decodeIfPresent(Instant.self, forKey: .openedAt)
        ring = try c.decode([Bool].self, forKey: .ring)
        ringNext = try c.decode(Int.self, forKey: .ringNext)
        buckets = try c.decode([Bucket].self, forKey: .buckets)
        halfOpenPermitted = try c.decode(Int.self, forKey: .halfOpenPermitted)
        halfOpenCalls = try c.decode(Int.self, forKey: .halfOpenCalls)
        halfOpenFailures = try c.decode(Int.self, forKey: .halfOpenFailures)
        guard ring.count <= BreakerConfig.countWindowMax, ringNext >= 0, ringNext <= max(0, ring.count),
            buckets.count <= BreakerConfig.timeBuckets,
            buckets.allSatisfy({ $0.calls >= 0 && $0.failures >= 0 && $0.failures <= $0.calls }),
            halfOpenPermitted >= 0, halfOpenCalls >= 0, halfOpenFailures >= 0, halfOpenFailures <= halfOpenCalls,
            (state == .open) == (openedAt != nil)
        else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "inconsistent circuit breaker state"))
        }
    }

    package enum Permission: Hashable, Sendable {
        case permitted
        case rejected(ReasonCode)
    }

    /// Would a call be permitted now? Moves open to half-open once the wait is over.
    package mutating func permission(_ config: BreakerConfig, at now: Instant) -> Permission {
        switch state {
        case .closed:
            return .permitted
        case .open:
            guard let opened = openedAt, now >= opened.adding(seconds: config.waitInOpenSeconds) else {
                return .rejected(.breakerOpen)
            }
            transition(to: .halfOpen, at: now)
            return .permitted
        case .halfOpen:
            return halfOpenPermitted < config.permittedCallsInHalfOpen ? .permitted : .rejected(.breakerOpen)
        }
    }

    /// Takes one of the half-open trial permits. Call only for a call that will be made.
    package mutating func acquire(_ config: BreakerConfig, at now: Instant) -> Bool {
        guard permission(config, at: now) == .permitted else { return false }
        if state == .halfOpen { halfOpenPermitted += 1 }
        return true
    }

    /// Records a finished call's outcome.
    package mutating func record(failure: Bool, _ config: BreakerConfig, at now: Instant) {
        switch state {
        case .closed:
            let (calls, failures) = add(failure: failure, config, at: now)
            if calls >= config.minimumCalls && Double(failures) / Double(calls) >= config.failureRateThreshold {
                transition(to: .open, at: now)
            }
        case .halfOpen:
            halfOpenCalls += 1
            if failure { halfOpenFailures += 1 }
            if halfOpenCalls >= config.permittedCallsInHalfOpen {
                let rate = Double(halfOpenFailures) / Double(halfOpenCalls)
                transition(to: rate >= config.failureRateThreshold ? .open : .closed, at: now)
            }
        case .open:
            break  // a late result after the breaker moved on changes nothing
        }
    }


    /// Calls and failures currently in the window (closed state).
    package func windowCounts(_ config: BreakerConfig, at now: Instant) -> (calls: Int, failures: Int) {
        switch config.window {
        case .count:
            return (ring.count, ring.lazy.filter { $0 }.count)
        case .time(let seconds):
            let current = bucketIndex(now, seconds)
            let live = buckets.filter { current - $0.index < Int64(BreakerConfig.timeBuckets) && $0.index <= current }
            return (live.reduce(0) { $0 + $1.calls }, live.reduce(0) { $0 + $1.failures })
        }
    }

    private func bucketIndex(_ now: Instant, _ seconds: Int64) -> Int64 {
        let width = max(1, seconds / Int64(BreakerConfig.timeBuckets))
        return (now.microsSinceEpoch / Instant.microsPerSecond).floorDiv(width)
    }

    private mutating func add(failure: Bool, _ config: BreakerConfig, at now: Instant) -> (Int, Int) {
        switch config.window {
        case .count(let n):
            if ring.count > n { ring.removeFirst(ring.count - n) }  // the window shrank since this state was saved
            if ringNext >= ring.count || ring.count < n {
                ring.append(failure)
                if ring.count > n { ring.removeFirst() }
            } else {
                ring[ringNext] = failure
            }
            ringNext = (ringNext + 1) % n
        case .time(let seconds):
            let index = bucketIndex(now, seconds)
            buckets.removeAll { index - $0.index >= Int64(BreakerConfig.timeBuckets) || $0.index > index }
            if let i = buckets.firstIndex(where: { $0.index == index }) {
                buckets[i].calls += 1
                if failure { buckets[i].failures += 1 }
            } else {
                buckets.append(Bucket(index: index, calls: 1, failures: failure ? 1 : 0))
            }
            assert(buckets.count <= BreakerConfig.timeBuckets)
        }
        return windowCounts(config, at: now)
    }

    private mutating func transition(to next: BreakerState, at now: Instant) {
        state = next
        openedAt = next == .open ? now : nil
        ring.removeAll()
        ringNext = 0
        buckets.removeAll()
        halfOpenPermitted = 0
        halfOpenCalls = 0
        halfOpenFailures = 0
    }
}

extension CircuitBreaker {
    /// The snapshot's JSON of this breaker, as its `Codable` conformance writes it
    /// (`StateJSON.swift`).
    package func writeStateJSON(_ out: inout JSONOut) {
        out.open()
        out.string("state", state.rawValue)
        if let openedAt { out.int("openedAt", openedAt.microsSinceEpoch) }
        out.key("ring")
        out.openArray()
        for failed in ring { out.bool(failed) }
        out.closeArray()
        out.int("ringNext", Int64(ringNext))
        out.key("buckets")
        out.openArray()
        for b in buckets {
            out.open()
            out.int("index", b.index)
            out.int("calls", Int64(b.calls))
            out.int("failures", Int64(b.failures))
            out.close()
        }
        out.closeArray()
        out.int("halfOpenPermitted", Int64(halfOpenPermitted))
        out.int("halfOpenCalls", Int64(halfOpenCalls))
        out.int("halfOpenFailures", Int64(halfOpenFailures))
        out.close()
    }
}
