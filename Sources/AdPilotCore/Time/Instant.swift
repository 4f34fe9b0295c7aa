internal import Synchronization

/// A point in time: whole microseconds since the Unix epoch, UTC. The core never reads a
/// clock; callers pass an `Instant` in, so a test or a replay controls time exactly.
public struct Instant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public static let microsPerSecond: Int64 = 1_000_000
    public static let secondsPerHour: Int64 = 3_600
    public static let secondsPerDay: Int64 = 86_400

    public let microsSinceEpoch: Int64

    public init(microsSinceEpoch: Int64) { self.microsSinceEpoch = microsSinceEpoch }
    public init(secondsSinceEpoch: Int64) { self.microsSinceEpoch = secondsSinceEpoch * Instant.microsPerSecond }

    public init(from decoder: any Decoder) throws {
        microsSinceEpoch = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(microsSinceEpoch)
    }

    public static func < (a: Instant, b: Instant) -> Bool { a.microsSinceEpoch < b.microsSinceEpoch }

    /// Saturates at the ends of time rather than wrapping: a huge duration from a bad
    /// input must not turn "far future" into "long ago".
    public func adding(seconds: Int64) -> Instant {
        let (m, o) = seconds.multipliedReportingOverflow(by: Instant.microsPerSecond)
        return adding(micros: o ? (seconds < 0 ? .min : .max) : m)
    }

    public func adding(micros: Int64) -> Instant {
        let (v, o) = microsSinceEpoch.addingReportingOverflow(micros)
        return Instant(microsSinceEpoch: o ? (micros < 0 ? .min : .max) : v)
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    public func seconds(since earlier: Instant) -> Double {
        Double(microsSinceEpoch &- earlier.microsSinceEpoch) / Double(Instant.microsPerSecond)
    }

    public var description: String { rfc3339 }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-21T19:40:29.000000Z`.
    public var rfc3339: String {
        let seconds = microsSinceEpoch.floorDiv(Instant.microsPerSecond)
        let micros = microsSinceEpoch.floorMod(Instant.microsPerSecond)
        let days = seconds.floorDiv(Instant.secondsPerDay)
        let secondOfDay = seconds.floorMod(Instant.secondsPerDay)
        let (y, m, d) = CivilDate.fromDays(days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(micros, 6))Z"
    }
}

/// Local calendar position of an instant for an account whose day starts at a fixed UTC
/// offset (ad accounts report in one fixed timezone).
public struct LocalTime: Hashable, Sendable {
    /// Days since 1970-01-01 in the account's timezone.
    public let day: Int64
    /// Seconds since local midnight, 0..<86,400.
    public let secondOfDay: Int64
    /// 0 = Monday ... 6 = Sunday.
    public let dayOfWeek: Int

    public init(_ instant: Instant, utcOffsetSeconds: Int64) {
        let local = instant.microsSinceEpoch.floorDiv(Instant.microsPerSecond).addingReportingOverflow(utcOffsetSeconds).partialValue
        day = local.floorDiv(Instant.secondsPerDay)
        secondOfDay = local.floorMod(Instant.secondsPerDay)
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        dayOfWeek = Int((day + 3).floorMod(7))
    }

    public var hourOfDay: Int { Int(secondOfDay / Instant.secondsPerHour) }
    /// Fraction of the local day elapsed, 0..<1.
    public var dayFraction: Double { Double(secondOfDay) / Double(Instant.secondsPerDay) }
}

enum CivilDate {
    /// Howard Hinnant's days_from_civil inverse: (year, month, day) of a day count.
    static func fromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = z.floorDiv(146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    /// Division rounding toward negative infinity, for positive `d`. Never overflows.
    func floorDiv(_ d: Int64) -> Int64 {
        precondition(d > 0)
        let q = self / d
        return self % d < 0 ? q - 1 : q
    }

    /// The remainder in 0..<d, for positive `d`. Never overflows.
    func floorMod(_ d: Int64) -> Int64 {
        precondition(d > 0)
        let r = self % d
        return r < 0 ? r + d : r
    }
}

/// The one way anything outside the core learns the time. Production reads the system
/// clock; tests and the simulator use `ManualClock`.
public protocol TimeSource: Sendable {
    func now() -> Instant
}

/// A clock that moves only when told to.
public final class ManualClock: TimeSource {
    private let current: Mutex<Instant>

    public init(_ start: Instant) { current = Mutex(start) }

    public func now() -> Instant { current.withLock { $0 } }

    public func advance(seconds: Int64) {
        current.withLock { $0 = $0.adding(seconds: seconds) }
    }

    public func set(_ instant: Instant) { current.withLock { $0 = instant } }
}
