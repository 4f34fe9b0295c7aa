internal import Synchronization

/// A point in time: whole microseconds since the Unix epoch, UTC. The core never reads a
/// clock; callers pass an `Instant` in, so a test or a replay controls time exactly.
package struct Instant: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    package static let microsPerSecond: Int64 = 1_000_000
    package static let secondsPerHour: Int64 = 3_600
    package static let secondsPerDay: Int64 = 86_400

    package let microsSinceEpoch: Int64

    package init(microsSinceEpoch: Int64) { self.microsSinceEpoch = microsSinceEpoch }
    package init(secondsSinceEpoch: Int64) { self.microsSinceEpoch = secondsSinceEpoch * Instant.microsPerSecond }

    package init(from decoder: any Decoder) throws {
        microsSinceEpoch = try decoder.singleValueContainer().decode(Int64.self)
    }

    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(microsSinceEpoch)
    }

    package static func < (a: Instant, b: Instant) -> Bool { a.microsSinceEpoch < b.microsSinceEpoch }

    /// Saturates at the ends of time rather than wrapping: a huge duration from a bad
    /// input must not turn "far future" into "long ago".
    package func adding(seconds: Int64) -> Instant {
        let (m, o) = seconds.multipliedReportingOverflow(by: Instant.microsPerSecond)
        return adding(micros: o ? (seconds < 0 ? .min : .max) : m)
    }

    package func adding(micros: Int64) -> Instant {
        let (v, o) = microsSinceEpoch.addingReportingOverflow(micros)
        return Instant(microsSinceEpoch: o ? (micros < 0 ? .min : .max) : v)
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    package func seconds(since earlier: Instant) -> Double {
        // In Double: a difference wider than Int64 (corrupt restored state) must not wrap.
        (Double(microsSinceEpoch) - Double(earlier.microsSinceEpoch)) / Double(Instant.microsPerSecond)
    }

    package var description: String { rfc3339 }

    /// RFC 3339 in UTC with microseconds, e.g. `2026-11-21T19:40:29.000000Z`.
    package var rfc3339: String {
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

extension Instant {
    /// Parses RFC 3339: `YYYY-MM-DDTHH:MM:SS`, optional fraction (up to 9 digits, kept to
    /// the microsecond), then `Z` or `±HH:MM`. A date alone (`YYYY-MM-DD`) means its UTC
    /// midnight. Nil for anything else.
    package init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func digits(_ at: Int, _ n: Int) -> Int64? {
            guard at + n <= b.count else { return nil }
            var v: Int64 = 0
            for i in at..<(at + n) {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        guard b.count <= 40, let y = digits(0, 4), b.count >= 10, b[4] == 45, let mo = digits(5, 2), b[7] == 45,
            let d = digits(8, 2), (1...12).contains(mo), (1...CivilDate.daysIn(month: mo, year: y)).contains(d)
        else { return nil }
        let days = CivilDate.toDays(y, mo, d)
        if b.count == 10 {
            self.init(secondsSinceEpoch: days * Instant.secondsPerDay)
            return
        }
        guard b.count >= 20, b[10] == 84 || b[10] == 116, let h = digits(11, 2), b[13] == 58, let mi = digits(14, 2),
            b[16] == 58, let s = digits(17, 2), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var micros: Int64 = 0
        if b[i] == 46 {  // '.'
            i += 1
            var n = 0
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                if n < 6 { micros = micros * 10 + Int64(b[i] - 48) }
                n += 1
                i += 1
            }
            guard n >= 1 && n <= 9 else { return nil }
            for _ in min(n, 6)..<6 { micros *= 10 }
        }
        var offset: Int64 = 0
        if i < b.count, b[i] == 90 || b[i] == 122 {  // Z
            i += 1
        } else if i < b.count, b[i] == 43 || b[i] == 45, let oh = digits(i + 1, 2), i + 3 < b.count, b[i + 3] == 58,
            let om = digits(i + 4, 2), oh < 24, om < 60
        {
            offset = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let seconds = days * Instant.secondsPerDay + h * 3600 + mi * 60 + min(s, 59) - offset
        self.init(microsSinceEpoch: seconds * Instant.microsPerSecond + micros)
    }
}

/// Local calendar position of an instant for an account whose day starts at a fixed UTC
/// offset (ad accounts report in one fixed timezone).
package struct LocalTime: Hashable, Sendable {
    /// Days since 1970-01-01 in the account's timezone.
    package let day: Int64
    /// Seconds since local midnight, 0..<86,400.
    package let secondOfDay: Int64
    /// 0 = Monday ... 6 = Sunday.
    package let dayOfWeek: Int

    package init(_ instant: Instant, utcOffsetSeconds: Int64) {
        let local = instant.microsSinceEpoch.floorDiv(Instant.microsPerSecond).addingReportingOverflow(utcOffsetSeconds)
            .partialValue
        day = local.floorDiv(Instant.secondsPerDay)
        secondOfDay = local.floorMod(Instant.secondsPerDay)
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        dayOfWeek = Int((day + 3).floorMod(7))
    }

    package var hourOfDay: Int { Int(secondOfDay / Instant.secondsPerHour) }
    /// Fraction of the local day elapsed, 0..<1.
    package var dayFraction: Double { Double(secondOfDay) / Double(Instant.secondsPerDay) }
}

enum CivilDate {
    /// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil).
    static func toDays(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = y.floorDiv(400)
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func daysIn(month m: Int64, year y: Int64) -> Int64 {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

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
    package func floorDiv(_ d: Int64) -> Int64 {
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
package protocol TimeSource: Sendable {
    func now() -> Instant
}

/// A clock that moves only when told to.
package final class ManualClock: TimeSource {
    private let current: Mutex<Instant>

    package init(_ start: Instant) { current = Mutex(start) }

    package func now() -> Instant { current.withLock { $0 } }

    package func advance(seconds: Int64) {
        current.withLock { $0 = $0.adding(seconds: seconds) }
    }

    package func set(_ instant: Instant) { current.withLock { $0 = instant } }
}
