#if canImport(Glibc)
    import Glibc
#endif

/// A running mean and variance (Welford), small enough to keep in the evidence snapshot.
package struct RunningMoments: Hashable, Sendable, Codable {
    package private(set) var count = 0
    package private(set) var mean = 0.0
    /// Sum of squared deviations from the mean.
    package private(set) var m2 = 0.0

    package init() {}

    package mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// The sample variance (n - 1), or nil with fewer than two observations.
    package var variance: Double? { count >= 2 ? m2 / Double(count - 1) : nil }
}

/// An anytime-valid interval for a mean: the asymptotic confidence sequence of
/// Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas ("Time-uniform central limit theory and
/// asymptotic confidence sequences", 2021, Theorem 2.2; the `confseq` package's
/// `std_conjmix_margin` and `best_rho2_approx`). Unlike a fixed-sample interval, it may be
/// checked after every observation (every tick) and stopped on whenever it says so: the
/// chance it ever excludes the true mean is at most alpha, asymptotically.
///
///     margin(t) = sd * sqrt(2 (t rho2 + 1) / (t^2 rho2) * ln(sqrt(t rho2 + 1) / a))
///     rho2      = (2 ln(1/a) + ln(1 + 2 ln(1/a))) / horizon
///
/// `a` is alpha / 2: each side at alpha / 2, so the pair holds at 1 - alpha (conservative:
/// the mixture is already two-sided). `horizon` is the number of observations at which
/// the sequence is tightest; any other count is still valid, only wider.
package enum ConfidenceSequence {
    package static func rho2(horizon: Double, alpha: Double) -> Double {
        let a = alpha / 2
        let l = log(1 / a)
        return (2 * l + log(1 + 2 * l)) / max(1, horizon)
    }

    /// The half-width for a unit variance after `t` observations.
    package static func unitMargin(_ t: Double, rho2: Double, alpha: Double) -> Double {
        let a = alpha / 2
        let v = t * rho2 + 1
        return (2 * v / (t * t * rho2) * log(v.squareRoot() / a)).squareRoot()
    }

    /// The mean with its anytime-valid interval; nil with fewer than two observations.
    package static func interval(_ m: RunningMoments, alpha: Double, horizon: Double) -> OffPolicy.Interval? {
        guard let variance = m.variance else { return nil }
        let t = Double(m.count)
        let half = variance.squareRoot() * unitMargin(t, rho2: rho2(horizon: horizon, alpha: alpha), alpha: alpha)
        return OffPolicy.Interval(estimate: m.mean, low: m.mean - half, high: m.mean + half)
    }
}
