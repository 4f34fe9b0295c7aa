#if canImport(Glibc)
    import Glibc
#endif

/// How the writing policy explores (docs/evaluation.md): once an hour, at the first tick of
/// the hour, its proposal is multiplied by exp(shift), the shift drawn from the seed, the
/// campaign and the tick's slot (so a replay draws the same) with standard deviation
/// `scale`: normal, or uniform on [-sqrt(3) scale, +sqrt(3) scale]. The guardrails then
/// judge the explored proposal like any other. Scale 0: no exploration.
package struct ExplorationConfig: Hashable, Sendable {
    /// The law of the log of the multiplier.
    package enum Distribution: String, Hashable, Sendable, CaseIterable {
        /// Normal: the multiplier is log-normal; unbounded, so every budget stays in support.
        case lognormal
        /// Uniform: the multiplier is log-uniform; bounded, so no draw is far in a tail.
        case loguniform
    }

    /// Standard deviation of the log of the multiplier.
    package var scale: Double
    package var seed: UInt64
    package var distribution: Distribution

    package init(scale: Double, seed: UInt64, distribution: Distribution = .lognormal) {
        self.scale = scale
        self.seed = seed
        self.distribution = distribution
    }

    package static let off = ExplorationConfig(scale: 0, seed: 0)

    /// A shift and its density under this law, from a standard normal `z` or a uniform `u`
    /// in [0, 1) drawn for the decision.
    func shift(z: Double, u: Double) -> (shift: Double, density: Double) {
        switch distribution {
        case .lognormal:
            return (scale * z, exp(-0.5 * z * z) / ((2 * Double.pi).squareRoot() * scale))
        case .loguniform:
            let halfWidth = 3.0.squareRoot() * scale
            return (halfWidth * (2 * u - 1), 1 / (2 * halfWidth))
        }
    }
}

/// One explored proposal, as journaled in its decision.
package struct Exploration: Hashable, Sendable, Codable {
    package var scale: Double
    /// The policy's own proposal, before exploration (micros, a statistic).
    package var unexploredMicros: Double
    /// ln(explored / unexplored).
    package var shift: Double
    /// The density of `shift` under the behaviour policy (N(0, scale^2), or uniform with
    /// that spread): the behaviour density of the action taken, in log-budget units.
    package var density: Double

    package init(scale: Double, unexploredMicros: Double, shift: Double, density: Double) {
        self.scale = scale
        self.unexploredMicros = unexploredMicros
        self.shift = shift
        self.density = density
    }

    /// Whether `slot` is the first tick of its hour on a `tickSeconds` grid.
    package static func isHourStart(_ slot: Instant, tickSeconds: Int64) -> Bool {
        slot.microsSinceEpoch.floorMod(Instant.secondsPerHour * Instant.microsPerSecond)
            < tickSeconds * Instant.microsPerSecond
    }

    /// The explored proposal and what was done, or the proposal unchanged (nil) when
    /// exploration is off, the proposal is not a positive finite budget, or `slot` is not
    /// the first tick of its hour.
    package static func explore(
        _ proposal: Proposal, _ config: ExplorationConfig, campaign: CampaignID, slot: Instant, tickSeconds: Int64
    ) -> (Proposal, Exploration?) {
        guard config.scale > 0, case .budget(let v) = proposal, v.value.isFinite, v.value > 0,
            isHourStart(slot, tickSeconds: tickSeconds)
        else { return (proposal, nil) }
        let (z, u) = draws(seed: config.seed, campaign: campaign, slot: slot)
        let (shift, density) = config.shift(z: z, u: u)
        return (
            .micros(v.value * exp(shift)),
            Exploration(scale: config.scale, unexploredMicros: v.value, shift: shift, density: density)
        )
    }

    /// A standard normal (Box-Muller) and a uniform in [0, 1) from SplitMix64 seeded by the
    /// seed, the campaign id (FNV-1a) and the slot: the same draws every time for the same
    /// decision.
    package static func draws(seed: UInt64, campaign: CampaignID, slot: Instant) -> (z: Double, u: Double) {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in campaign.rawValue.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var rng = SplitMix64(seed: seed ^ h ^ UInt64(bitPattern: slot.microsSinceEpoch))
        _ = rng.next()
        let u = max(rng.unit(), 0x1.0p-53), v = rng.unit()
        return ((-2 * log(u)).squareRoot() * cos(2 * Double.pi * v), v)
    }
}
